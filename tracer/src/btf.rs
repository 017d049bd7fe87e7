//! Just enough of a BTF reader to find struct member offsets in /sys/kernel/btf/vmlinux.
//!
//! aya has no CO-RE for Rust programs (aya #349), so the few kernel struct fields the
//! programs read are located here at start-up and passed in as globals. aya-obj parses BTF
//! too, but keeps its type accessors private.
use std::collections::HashMap;

use anyhow::{Context, Result, bail};

const MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;

/// A struct or union: its members as (name offset in the string section, type id, bit
/// offset).
struct Composite {
    members: Vec<(u32, u32, u32)>,
}

pub struct Btf {
    strings: Vec<u8>,
    /// Type id -> composite (only structs and unions are kept).
    composites: HashMap<u32, Composite>,
    /// Struct name -> type id (the first complete definition).
    by_name: HashMap<String, u32>,
    /// Enumerator name -> value (enum pageflags' PG_head, ...).
    enumerators: HashMap<String, i64>,
}

impl Btf {
    pub fn from_sys_fs() -> Result<Self> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path)
            .with_context(|| format!("cannot read {path}: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)"))?;
        Self::parse(&data)
    }

    pub fn parse(data: &[u8]) -> Result<Self> {
        let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        if u16_at(0) != Some(MAGIC) {
            bail!("not little-endian BTF (bad magic)");
        }
        let hdr_len = u32_at(4).context("truncated BTF header")? as usize;
        let field = |i: usize| u32_at(8 + 4 * i).map(|v| v as usize).context("truncated BTF header");
        let (type_off, type_len, str_off, str_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let types = data.get(hdr_len + type_off..hdr_len + type_off + type_len).context("truncated BTF types")?;
        let strings =
            data.get(hdr_len + str_off..hdr_len + str_off + str_len).context("truncated BTF strings")?.to_vec();
        let mut btf =
            Self { strings, composites: HashMap::new(), by_name: HashMap::new(), enumerators: HashMap::new() };
        let word = |o: usize| types.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        let (mut off, mut id) = (0usize, 1u32);
        while off < types.len() {
            let (name_off, info) = (word(off).context("truncated type")?, word(off + 4).context("truncated type")?);
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let kflag = info >> 31 == 1;
            off += 12;
            let extra = match kind {
                1 | 14 | 17 => 4, // INT, VAR, DECL_TAG
                3 => 12,          // ARRAY
                KIND_STRUCT | KIND_UNION => 12 * vlen,
                6 | 13 => 8 * vlen,        // ENUM, FUNC_PROTO
                15 | 19 => 12 * vlen,      // DATASEC, ENUM64
                2 | 7..=12 | 16 | 18 => 0, // PTR, FWD, TYPEDEF.., FUNC, FLOAT, TYPE_TAG
                k => bail!("unknown BTF kind {k}"),
            };
            if kind == KIND_ENUM {
                for m in 0..vlen {
                    let (n, v) = (word(off + 8 * m), word(off + 8 * m + 4));
                    let name = btf.string(n.context("truncated enum")?).to_owned();
                    btf.enumerators.entry(name).or_insert(i64::from(v.context("truncated enum")? as i32));
                }
            }
            if kind == KIND_STRUCT || kind == KIND_UNION {
                let mut members = Vec::with_capacity(vlen);
                for m in 0..vlen {
                    let base = off + 12 * m;
                    let (n, ty, bits) = (word(base), word(base + 4), word(base + 8));
                    let bits = bits.context("truncated member")?;
                    // With kflag the low 24 bits are the bit offset (the high 8 a bitfield size).
                    let bit_offset = if kflag { bits & 0x00ff_ffff } else { bits };
                    members.push((n.context("truncated member")?, ty.context("truncated member")?, bit_offset));
                }
                if kind == KIND_STRUCT && name_off != 0 {
                    let name = btf.string(name_off).to_owned();
                    btf.by_name.entry(name).or_insert(id);
                }
                btf.composites.insert(id, Composite { members });
            }
            off += extra;
            id += 1;
        }
        Ok(btf)
    }

    fn string(&self, off: u32) -> &str {
        let rest = self.strings.get(off as usize..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// Byte offset of `member` in `struct name`, looking through anonymous structs and
    /// unions (task_struct keeps many fields in them).
    pub fn member_offset(&self, name: &str, member: &str) -> Result<u32> {
        let id = *self.by_name.get(name).with_context(|| format!("struct {name} is not in the kernel's BTF"))?;
        self.find(id, member, 0).with_context(|| format!("struct {name} has no member {member} in the kernel's BTF"))
    }

    /// The value of an enumerator (of any enum), e.g. `PG_head`.
    pub fn enum_value(&self, name: &str) -> Result<i64> {
        self.enumerators.get(name).copied().with_context(|| format!("enumerator {name} is not in the kernel's BTF"))
    }

    fn find(&self, id: u32, member: &str, base_bits: u32) -> Option<u32> {
        let c = self.composites.get(&id)?;
        for &(name_off, _, bits) in &c.members {
            if name_off != 0 && self.string(name_off) == member {
                return Some((base_bits + bits) / 8);
            }
        }
        c.members
            .iter()
            .filter(|&&(name_off, ..)| name_off == 0)
            // Anonymous members name their struct/union type directly in kernel BTF.
            .find_map(|&(_, ty, bits)| self.find(ty, member, base_bits + bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BTF blob: struct outer { int a; union { int b; struct { int c; }; }; }.
    fn sample() -> Vec<u8> {
        let strings = b"\0outer\0a\0b\0c\0int\0";
        let s = |name: &str| {
            strings
                .windows(name.len() + 1)
                .position(|w| &w[..name.len()] == name.as_bytes() && w[name.len()] == 0)
                .unwrap() as u32
        };
        let mut t: Vec<u32> = Vec::new();
        // 1: int (INT, size 4, encoding word)
        t.extend([s("int"), 1 << 24, 4, 32]);
        // 2: anonymous struct { int c; }
        t.extend([0, (KIND_STRUCT << 24) | 1, 4, s("c"), 1, 0]);
        // 3: anonymous union { int b; struct 2; }
        t.extend([0, (KIND_UNION << 24) | 2, 4, s("b"), 1, 0, 0, 2, 0]);
        // 4: struct outer { int a @0; union 3 @64 bits }
        t.extend([s("outer"), (KIND_STRUCT << 24) | 2, 12, s("a"), 1, 0, 0, 3, 64]);
        let types: Vec<u8> = t.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend(MAGIC.to_le_bytes());
        out.extend([1u8, 0]);
        out.extend(24u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((types.len() as u32).to_le_bytes());
        out.extend((types.len() as u32).to_le_bytes());
        out.extend((strings.len() as u32).to_le_bytes());
        out.extend(types);
        out.extend(strings);
        out
    }

    #[test]
    fn finds_members_through_anonymous_unions_and_structs() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.member_offset("outer", "a").unwrap(), 0);
        assert_eq!(btf.member_offset("outer", "b").unwrap(), 8);
        assert_eq!(btf.member_offset("outer", "c").unwrap(), 8);
        assert!(btf.member_offset("outer", "zz").unwrap_err().to_string().contains("no member zz"));
        assert!(btf.member_offset("inner", "a").is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"nope").is_err());
        let mut truncated = sample();
        truncated.truncate(30);
        assert!(Btf::parse(&truncated).is_err());
    }

    #[test]
    fn reads_this_kernels_task_struct() {
        // Every machine this project runs on has BTF (DESIGN: Linux 6.18 with BTF).
        let btf = Btf::from_sys_fs().unwrap();
        assert_eq!(
            btf.member_offset("task_struct", "pid").unwrap() + 4,
            btf.member_offset("task_struct", "tgid").unwrap()
        );
        assert!(btf.member_offset("file", "f_inode").unwrap() > 0);
        assert_eq!(btf.enum_value("PG_locked").unwrap(), 0);
        assert!(btf.enum_value("PG_head").unwrap() > 0);
    }
}
