fn main() {
    workloads::hammer::main();
}
