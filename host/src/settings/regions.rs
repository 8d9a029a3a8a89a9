//! The AWS regions Coffer knows, to catch a typo before it becomes a DNS failure at 3 a.m.
//! With a custom `endpoint`, any region name is taken (MinIO, Garage, Ceph, R2's "auto"...).

/// AWS's S3 regions (commercial, GovCloud and China).
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "af-south-1",
    "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-south-2", "eu-north-1",
    "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
    "us-gov-east-1", "us-gov-west-1",
    "cn-north-1", "cn-northwest-1",
];

/// The S3 endpoint of a well-known AWS region.
pub fn aws_endpoint(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("https://s3.{region}.amazonaws.com.cn")
    } else {
        format!("https://s3.{region}.amazonaws.com")
    }
}

/// Whether `region` is a well-known AWS region.
pub fn is_known(region: &str) -> bool {
    AWS_REGIONS.contains(&region)
}

/// The well-known region nearest to `region` by edit distance.
pub fn nearest(region: &str) -> &'static str {
    AWS_REGIONS.iter().copied().min_by_key(|known| edit_distance(region, known)).unwrap()
}

/// Letters to insert, delete or change to make `a` into `b`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
