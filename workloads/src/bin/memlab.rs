fn main() {
    workloads::memlab::main();
}
