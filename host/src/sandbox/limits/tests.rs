use super::*;

#[test]
fn memory_beyond_the_limit_is_refused_and_named() {
    let mut meter = Meter::new(Limits { memory: 1 << 20, ..Limits::default() });
    assert!(meter.memory_growing(0, 1 << 20, None).unwrap());
    let error = meter.memory_growing(1 << 20, 2 << 20, None).unwrap_err().to_string();
    assert!(error.contains("memory limit of 1.0 MiB"), "{error}");
    assert_eq!(meter.exceeded, Some(Exceeded::Memory { limit: 1 << 20, asked: 2 << 20 }));
}

#[test]
fn cpu_is_the_guests_ticks_and_the_host_work_it_asks_for() {
    let mut meter = Meter::new(Limits { cpu_time: Duration::from_millis(50), ..Limits::default() });
    for _ in 0..3 {
        assert!(matches!(meter.tick(), Ok(UpdateDeadline::Yield(1))));
    }
    assert_eq!(meter.spent(), Duration::from_millis(30));
    meter.add_host_work(Duration::from_millis(15));
    let error = meter.tick().err().expect("40 ms in the guest + 15 ms of hashing is past 50").to_string();
    assert!(error.contains("CPU time limit of 50ms"), "{error}");
    meter.start_call();
    assert_eq!(meter.spent(), Duration::ZERO, "a new call counts from zero");
}
