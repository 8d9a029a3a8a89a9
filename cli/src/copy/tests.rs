use super::*;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn the_last_bytes_pass_only_on_release_and_never_past_the_size() {
    let (inner, mut reader) = tokio::io::duplex(PIPE);
    let mut pipe = HoldLast { inner, held: Vec::new(), taken: 0, size: 9 };
    pipe.write_all(b"abc").await.unwrap();
    pipe.write_all(b"def").await.unwrap();
    pipe.write_all(b"ghi").await.unwrap();
    pipe.flush().await.unwrap();
    pipe.shutdown().await.unwrap();
    let mut got = [0u8; 9];
    let n = reader.read(&mut got).await.unwrap();
    assert_eq!(&got[..n], b"abcdef", "the last write is held back, even past a shutdown");
    assert!(pipe.write_all(b"j").await.is_err(), "a byte past the size is refused");
    pipe.release().await.unwrap();
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"ghi");

    // Dropped unreleased (the read failed): the reader sees the stream end short.
    let (inner, mut reader) = tokio::io::duplex(PIPE);
    let mut pipe = HoldLast { inner, held: Vec::new(), taken: 0, size: 6 };
    pipe.write_all(b"abc").await.unwrap();
    pipe.write_all(b"def").await.unwrap();
    drop(pipe);
    let mut all = Vec::new();
    reader.read_to_end(&mut all).await.unwrap();
    assert_eq!(all, b"abc");
}
