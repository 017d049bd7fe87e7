fn main() {
    workloads::client::main();
}
