/// A mail server shares one host and its tenants across threads and tasks.
#[test]
fn handles_are_send_and_sync() {
    fn shared_across_threads<T: Send + Sync + Clone + 'static>() {}
    shared_across_threads::<super::Coffer>();
    shared_across_threads::<super::Tenant>();
}
