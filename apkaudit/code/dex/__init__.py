"""The dex reader, by job: :mod:`.tables` (header and id tables), :mod:`.code_items` (class
data, code items, try blocks), :mod:`.decode` (instructions), :mod:`.reader` (:class:`DexFile`
with the reference search; the reader's public names), :mod:`.primitives` (LEB128, MUTF-8 and
the guards against hostile input), :mod:`.opcodes` (the opcode table), :mod:`.disasm`
(smali-like excerpts)."""
