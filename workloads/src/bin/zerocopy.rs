fn main() {
    workloads::zerocopy::main();
}
