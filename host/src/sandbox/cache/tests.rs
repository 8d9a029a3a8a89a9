use super::*;

fn engine(epochs: bool, fuel: bool) -> Engine {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(epochs).consume_fuel(fuel);
    Engine::new(&config).unwrap()
}

#[test]
fn a_new_plugin_or_another_engine_configuration_gets_its_own_artefact() {
    let wasm = b"\0asm component bytes stand-in";
    let key = cache_key(&engine(true, false), wasm);
    assert_eq!(key, cache_key(&engine(true, false), wasm), "the same plugin and engine: the same artefact");
    assert_ne!(key, cache_key(&engine(false, false), wasm), "epoch interruption changes the code");
    assert_ne!(key, cache_key(&engine(true, true), wasm), "fuel changes the code");
    assert_ne!(key, cache_key(&engine(true, false), b"\0asm another plugin"), "another plugin");
}
