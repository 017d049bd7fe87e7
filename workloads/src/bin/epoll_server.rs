fn main() {
    workloads::server::main();
}
