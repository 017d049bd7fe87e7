//! The system-wide "TLB" line of /proc/interrupts: TLB shootdown IPIs each CPU received.
//! x86 only; None where the line is absent.

/// Per-CPU counts of the TLB line, in CPU order.
pub fn tlb_shootdowns() -> Option<Vec<u64>> {
    let text = std::fs::read_to_string("/proc/interrupts").ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<Vec<u64>> {
    let cpus = text.lines().next()?.split_whitespace().count();
    let line = text.lines().find(|l| l.trim_start().starts_with("TLB:"))?;
    let counts: Vec<u64> =
        line.trim_start()["TLB:".len()..].split_whitespace().take(cpus).map_while(|w| w.parse().ok()).collect();
    (counts.len() == cpus).then_some(counts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_one_count_per_cpu() {
        let text = "           CPU0       CPU1       \n CAL:     640447     474761   Function call interrupts\n TLB:     158389     162704   TLB shootdowns\n";
        assert_eq!(super::parse(text), Some(vec![158_389, 162_704]));
        assert_eq!(super::parse("           CPU0\n  0:  1  IO-APIC\n"), None);
    }
}
