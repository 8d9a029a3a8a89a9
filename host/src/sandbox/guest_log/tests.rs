use super::*;

/// The lines `write`s of `pieces` log, in order.
fn logged(pieces: &[&[u8]]) -> Vec<String> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(collector), || {
        let log = GuestLog::new("t", "stderr");
        for piece in pieces {
            log.lines.write(piece);
        }
    });
    let lines = seen.lock().unwrap().clone();
    lines
}

use tracing_subscriber::layer::SubscriberExt as _;

struct Collector(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Collector {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
}

#[test]
fn pieces_of_a_line_are_logged_as_one_line() {
    assert_eq!(logged(&[b"counts ", b"1", b" ", b"2\nnext", b" line\n"]), ["counts 1 2", "next line"]);
}

#[test]
fn an_unfinished_line_is_logged_when_the_instance_goes() {
    assert_eq!(logged(&[b"no newline", b" at the end"]), ["no newline at the end"]);
}

#[test]
fn a_line_that_never_ends_is_logged_in_bounded_parts() {
    let long = vec![b'x'; MAX_LINE * 2 + 10];
    let lines = logged(&[&long]);
    assert_eq!(lines.iter().map(String::len).collect::<Vec<_>>(), [MAX_LINE, MAX_LINE, 10]);
}
