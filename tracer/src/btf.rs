//! Just enough of a BTF reader to answer what the probe plan asks of a kernel: struct
//! member offsets, enumerator values, and the argument lists of BTF tracepoints
//! (`btf_trace_<name>` typedefs). aya has no CO-RE for Rust programs (aya #349), so the
//! few kernel struct fields the programs read are located here at start-up and passed in
//! as globals; aya-obj parses BTF too, but keeps its type accessors private.
//!
//! [`Btf::minimize`] writes a BTF blob holding only given facts, in the same format, so a
//! kernel's answers can be kept in the repository (a few KiB instead of a 5 MiB vmlinux
//! BTF) and the plan unit-tested for every kernel of the matrix without booting it.
use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result, bail};

const MAGIC: u16 = 0xeb9f;
const KIND_PTR: u32 = 2;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_ENUM64: u32 = 19;

/// One type: its kind, name, `vlen` and the header word that is its size or the type it
/// refers to, and its members (structs, unions: (name, type, bit offset)), enumerators
/// (name, value) or parameter types (function prototypes).
#[derive(Clone, Debug, Default)]
struct Type {
    kind: u32,
    name: String,
    size_or_type: u32,
    members: Vec<(String, u32, u32)>,
    values: Vec<(String, i64)>,
    params: Vec<u32>,
}

pub struct Btf {
    /// Index = type id (0 is void).
    types: Vec<Type>,
    /// Struct name -> type id (the first complete definition).
    structs: HashMap<String, u32>,
    typedefs: HashMap<String, u32>,
    /// Enumerator name -> value (enum pageflags' PG_head, ...).
    enumerators: HashMap<String, i64>,
}

/// A fact the plan needs from a kernel's BTF (see [`Btf::minimize`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    Member(&'static str, &'static str),
    Tracepoint(&'static str),
    Enumerator(&'static str),
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
        let types = data
            .get(hdr_len + type_off..(hdr_len + type_off).saturating_add(type_len))
            .context("truncated BTF types")?;
        let strings = data
            .get(hdr_len + str_off..(hdr_len + str_off).saturating_add(str_len))
            .context("truncated BTF strings")?;
        let string = |off: u32| -> String {
            let rest = strings.get(off as usize..).unwrap_or_default();
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        };
        let word =
            |o: usize| types.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).context("truncated type");
        let mut btf = Self {
            types: vec![Type::default()],
            structs: HashMap::new(),
            typedefs: HashMap::new(),
            enumerators: HashMap::new(),
        };
        let mut off = 0usize;
        while off < types.len() {
            let (name_off, info, size_or_type) = (word(off)?, word(off + 4)?, word(off + 8)?);
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let kflag = info >> 31 == 1;
            off += 12;
            let mut t = Type { kind, name: string(name_off), size_or_type, ..Type::default() };
            let extra = match kind {
                1 | 14 | 17 => 4, // INT, VAR, DECL_TAG
                3 => 12,          // ARRAY
                KIND_STRUCT | KIND_UNION => {
                    for m in 0..vlen {
                        let base = off + 12 * m;
                        let bits = word(base + 8)?;
                        // With kflag the low 24 bits are the bit offset (the high 8 a bitfield size).
                        let bit_offset = if kflag { bits & 0x00ff_ffff } else { bits };
                        t.members.push((string(word(base)?), word(base + 4)?, bit_offset));
                    }
                    12 * vlen
                }
                KIND_ENUM => {
                    for m in 0..vlen {
                        t.values.push((string(word(off + 8 * m)?), i64::from(word(off + 8 * m + 4)? as i32)));
                    }
                    8 * vlen
                }
                KIND_ENUM64 => {
                    for m in 0..vlen {
                        let v = u64::from(word(off + 12 * m + 4)?) | (u64::from(word(off + 12 * m + 8)?) << 32);
                        t.values.push((string(word(off + 12 * m)?), v as i64));
                    }
                    12 * vlen
                }
                KIND_FUNC_PROTO => {
                    for m in 0..vlen {
                        t.params.push(word(off + 8 * m + 4)?);
                    }
                    8 * vlen
                }
                15 => 12 * vlen,               // DATASEC
                2 | 7 | 9..=12 | 16 | 18 => 0, // PTR, FWD, VOLATILE.., FUNC, FLOAT, TYPE_TAG
                KIND_TYPEDEF => 0,
                k => bail!("unknown BTF kind {k}"),
            };
            off += extra;
            let id = btf.types.len() as u32;
            match kind {
                KIND_STRUCT if !t.name.is_empty() => {
                    btf.structs.entry(t.name.clone()).or_insert(id);
                }
                KIND_TYPEDEF => {
                    btf.typedefs.entry(t.name.clone()).or_insert(id);
                }
                KIND_ENUM | KIND_ENUM64 => {
                    for (name, v) in &t.values {
                        btf.enumerators.entry(name.clone()).or_insert(*v);
                    }
                }
                _ => {}
            }
            btf.types.push(t);
        }
        Ok(btf)
    }

    /// Byte offset of `member` in `struct name`, looking through anonymous structs and
    /// unions (task_struct keeps many fields in them).
    pub fn member_offset(&self, name: &str, member: &str) -> Result<u32> {
        let id = *self.structs.get(name).with_context(|| format!("struct {name} is not in the kernel's BTF"))?;
        self.find(id, member, 0)
            .map(|(bits, _)| bits / 8)
            .with_context(|| format!("struct {name} has no member {member} in the kernel's BTF"))
    }

    /// The size in bytes of `struct name`.
    pub fn struct_size(&self, name: &str) -> Option<u32> {
        self.structs.get(name).map(|&id| self.types[id as usize].size_or_type)
    }

    /// Whether `member` of `struct name` is itself a struct or union (through typedefs
    /// and qualifiers): a `seqcount_t` rather than an `int`.
    pub fn member_is_struct(&self, name: &str, member: &str) -> bool {
        let Some(&id) = self.structs.get(name) else { return false };
        let Some((_, path)) = self.find(id, member, 0) else { return false };
        let owner = &self.types[*path.last().unwrap() as usize];
        owner.members.iter().find(|(n, ..)| n == member).is_some_and(|&(_, ty, _)| self.is_struct(ty))
    }

    /// Whether type `ty` is a struct or union, looking through typedefs, const, volatile,
    /// restrict and type tags.
    fn is_struct(&self, mut ty: u32) -> bool {
        for _ in 0..8 {
            let Some(t) = self.types.get(ty as usize) else { return false };
            match t.kind {
                KIND_STRUCT | KIND_UNION => return true,
                KIND_TYPEDEF | 9 | 10 | 11 | 18 => ty = t.size_or_type,
                _ => return false,
            }
        }
        false
    }

    /// Whether `struct name` has `member`.
    pub fn has_member(&self, name: &str, member: &str) -> bool {
        self.member_offset(name, member).is_ok()
    }

    /// The value of an enumerator (of any enum), e.g. `PG_head`.
    pub fn enum_value(&self, name: &str) -> Result<i64> {
        self.enumerators.get(name).copied().with_context(|| format!("enumerator {name} is not in the kernel's BTF"))
    }

    /// The number of arguments BTF tracepoint `name` passes to a program (its
    /// `btf_trace_<name>` prototype without the leading context pointer), or None when
    /// this kernel has no such tracepoint.
    pub fn tracepoint_args(&self, name: &str) -> Option<usize> {
        let proto = self.tracepoint_proto(name)?;
        Some(self.types[proto as usize].params.len().saturating_sub(1))
    }

    /// typedef btf_trace_<name> -> pointer -> function prototype.
    fn tracepoint_proto(&self, name: &str) -> Option<u32> {
        let typedef = *self.typedefs.get(&format!("btf_trace_{name}"))?;
        let ptr = self.types.get(typedef as usize)?.size_or_type;
        let t = self.types.get(ptr as usize)?;
        let proto = if t.kind == KIND_PTR { t.size_or_type } else { return None };
        (self.types.get(proto as usize)?.kind == KIND_FUNC_PROTO).then_some(proto)
    }

    /// (bit offset, path of type ids through anonymous members) of `member` in `id`.
    fn find(&self, id: u32, member: &str, base_bits: u32) -> Option<(u32, Vec<u32>)> {
        let t = self.types.get(id as usize)?;
        if let Some(&(_, _, bits)) = t.members.iter().find(|(name, ..)| name == member) {
            return Some((base_bits + bits, vec![id]));
        }
        t.members.iter().filter(|(name, ..)| name.is_empty()).find_map(|&(_, ty, bits)| {
            // Anonymous members name their struct/union type directly in kernel BTF.
            let (found, mut path) = self.find(ty, member, base_bits + bits)?;
            path.insert(0, id);
            Some((found, path))
        })
    }

    /// A BTF blob that answers `facts` exactly as this one does, and nothing else: the
    /// structs with just the members asked for (and the anonymous structs and unions on
    /// the way to them), the tracepoint prototypes with their argument count (argument
    /// types become `void`), and the enumerators.
    pub fn minimize(&self, facts: &[Fact]) -> Vec<u8> {
        let mut w = Writer::default();
        // Old type id -> kept members (by name), for every composite on a path to a fact.
        let mut keep: HashMap<u32, BTreeSet<String>> = HashMap::new();
        for fact in facts {
            match fact {
                Fact::Member(s, m) => {
                    let Some(&id) = self.structs.get(*s) else { continue };
                    let Some((_, path)) = self.find(id, m, 0) else {
                        keep.entry(id).or_default();
                        continue;
                    };
                    for (i, ty) in path.iter().enumerate() {
                        // On the way down each anonymous member is kept by its empty name;
                        // the last composite keeps the member itself.
                        let name = if i + 1 == path.len() { (*m).to_owned() } else { String::new() };
                        keep.entry(*ty).or_default().insert(name);
                    }
                }
                Fact::Tracepoint(name) => {
                    if let Some(proto) = self.tracepoint_proto(name) {
                        let n = self.types[proto as usize].params.len();
                        let proto_id = w.push(KIND_FUNC_PROTO, "", 0, n, vec![0; 2 * n]);
                        let ptr = w.push(KIND_PTR, "", proto_id, 0, Vec::new());
                        w.push(KIND_TYPEDEF, &format!("btf_trace_{name}"), ptr, 0, Vec::new());
                    }
                }
                Fact::Enumerator(name) => {
                    if let Some(&v) = self.enumerators.get(*name) {
                        let body = vec![w.string(name), v as u32];
                        w.push(KIND_ENUM, "", 4, 1, body);
                    }
                }
            }
        }
        // A kept member that is itself a struct (a seqcount_t, say) points at an empty
        // stub struct, so the blob answers `member_is_struct` as the kernel's does.
        let mut order: Vec<u32> = keep.keys().copied().collect();
        order.sort_unstable();
        let stub = w.push(KIND_STRUCT, "", 0, 0, Vec::new());
        // Composites: new ids are assigned first, then written with remapped member types.
        let base = w.count + 1;
        let new_id: HashMap<u32, u32> = order.iter().enumerate().map(|(i, &id)| (id, base + i as u32)).collect();
        for id in &order {
            let t = &self.types[*id as usize];
            let names = &keep[id];
            let mut body = Vec::new();
            let mut n = 0;
            for (m, ty, bits) in &t.members {
                if names.contains(m) && (!m.is_empty() || new_id.contains_key(ty)) {
                    let to = new_id.get(ty).copied().unwrap_or(if self.is_struct(*ty) { stub } else { 0 });
                    body.extend([w.string(m), to, *bits]);
                    n += 1;
                }
            }
            let name =
                if t.kind == KIND_STRUCT && self.structs.get(&t.name) == Some(id) { t.name.as_str() } else { "" };
            w.push(t.kind, name, t.size_or_type, n, body);
        }
        w.finish()
    }
}

/// Builds a BTF blob: types in order of their ids, and their interned names.
#[derive(Default)]
struct Writer {
    types: Vec<u32>,
    count: u32,
    strings: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Writer {
    fn string(&mut self, s: &str) -> u32 {
        if self.strings.is_empty() {
            self.strings.push(0);
        }
        if s.is_empty() {
            return 0;
        }
        if let Some(&o) = self.offsets.get(s) {
            return o;
        }
        let o = self.strings.len() as u32;
        self.strings.extend(s.as_bytes());
        self.strings.push(0);
        self.offsets.insert(s.to_owned(), o);
        o
    }

    /// Appends a type; returns its id.
    fn push(&mut self, kind: u32, name: &str, size_or_type: u32, vlen: usize, body: Vec<u32>) -> u32 {
        let name = self.string(name);
        self.types.extend([name, (kind << 24) | vlen as u32, size_or_type]);
        self.types.extend(body);
        self.count += 1;
        self.count
    }

    fn finish(mut self) -> Vec<u8> {
        self.string("");
        let types: Vec<u8> = self.types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::with_capacity(24 + types.len() + self.strings.len());
        out.extend(MAGIC.to_le_bytes());
        out.extend([1u8, 0]);
        out.extend(24u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend((types.len() as u32).to_le_bytes());
        out.extend((types.len() as u32).to_le_bytes());
        out.extend((self.strings.len() as u32).to_le_bytes());
        out.extend(types);
        out.extend(self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BTF blob: struct outer { int a; union { int b; struct { int c; }; }; }, an
    /// enum { PG_x = 7 } and a tracepoint `tp(void *, int, int)`.
    fn sample() -> Vec<u8> {
        let strings = b"\0outer\0a\0b\0c\0int\0PG_x\0btf_trace_tp\0";
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
        // 5: enum { PG_x = 7 }
        t.extend([0, (KIND_ENUM << 24) | 1, 4, s("PG_x"), 7]);
        // 6: proto void (void *, int, int); 7: pointer to it; 8: typedef btf_trace_tp
        t.extend([0, (KIND_FUNC_PROTO << 24) | 3, 0, 0, 0, 0, 1, 0, 1]);
        t.extend([0, KIND_PTR << 24, 6]);
        t.extend([s("btf_trace_tp"), KIND_TYPEDEF << 24, 7]);
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
    fn finds_members_enumerators_and_tracepoints() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.member_offset("outer", "a").unwrap(), 0);
        assert_eq!(btf.member_offset("outer", "b").unwrap(), 8);
        assert_eq!(btf.member_offset("outer", "c").unwrap(), 8);
        assert!(btf.member_offset("outer", "zz").unwrap_err().to_string().contains("no member zz"));
        assert!(btf.member_offset("inner", "a").is_err());
        assert_eq!(btf.enum_value("PG_x").unwrap(), 7);
        assert_eq!(btf.tracepoint_args("tp"), Some(2), "the context pointer is not an argument");
        assert_eq!(btf.tracepoint_args("nope"), None);
    }

    #[test]
    fn minimized_blob_answers_the_same_and_nothing_more() {
        let full = Btf::parse(&sample()).unwrap();
        let facts = [
            Fact::Member("outer", "c"),
            Fact::Member("outer", "zz"),
            Fact::Member("missing", "x"),
            Fact::Tracepoint("tp"),
            Fact::Tracepoint("absent"),
            Fact::Enumerator("PG_x"),
        ];
        let small = Btf::parse(&full.minimize(&facts)).unwrap();
        assert_eq!(small.member_offset("outer", "c").unwrap(), 8, "through the anonymous union and struct");
        assert!(small.member_offset("outer", "zz").is_err());
        assert!(small.member_offset("outer", "a").is_err(), "not asked for, not kept");
        assert!(small.member_offset("missing", "x").is_err());
        assert_eq!(small.tracepoint_args("tp"), Some(2));
        assert_eq!(small.tracepoint_args("absent"), None);
        assert_eq!(small.enum_value("PG_x").unwrap(), 7);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"nope").is_err());
        let mut truncated = sample();
        truncated.truncate(30);
        assert!(Btf::parse(&truncated).is_err());
        // A header claiming more bytes than there are.
        let mut lying = sample();
        lying[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Btf::parse(&lying).is_err());
    }
}
