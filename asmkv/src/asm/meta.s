# meta.s - what a value carries beside its bytes: its representation fields
# (Content-Type, Content-Encoding, Content-Language, Content-Disposition,
# Cache-Control) and X-Object-Meta-* fields, as a write sent them, answered
# by GET and HEAD.
#
# A write's head is parsed in one go, and its upload starts at once (the
# record, or the spool of a chunked body, is made before the head's
# step ends): so one block per worker (w_meta) holds the metadata of the head
# being parsed, and start_upload takes it into the record (meta_finish). The
# block is stored as the header lines the answer sends ("Name: value\r\n"
# each, then the empty line that ends the head), so a GET sends it from the
# segment with the value, after checking its CRC.
# Limits are OpenStack Swift's: at most META_ITEMS_MAX X-Object-Meta-* fields,
# META_BYTES_MAX bytes of their names (after the prefix) and values, names of
# META_NAME_MAX bytes; a representation field's value at most META_VALUE_MAX
# bytes and one Content-Type. Beyond them the write is answered 400 before its
# body is read.
.text

# meta_reset: (event loop) a new head: no metadata yet. Clobbers nothing.
.globl meta_reset
meta_reset:
    mov qword ptr [rip + w_meta_len], MP_SIZE
    mov qword ptr [rip + w_meta_items], 0
    mov qword ptr [rip + w_meta_bytes], 0
    mov qword ptr [rip + w_meta_delete_at], 0
    mov dword ptr [rip + w_meta_ct], 0
    mov qword ptr [rip + w_meta_cc_end], 0
    mov qword ptr [rip + w_meta_cc_len], 0
    ret

# meta_field: (event loop) rdi = a header field's name, rsi = its length, rdx
# = its value, rcx = the value's length (the parser's: no CR, LF or other
# control byte but HTAB, no surrounding whitespace). Keeps it in w_meta if it
# is metadata. Returns eax = 0, or R_400_META if it breaks a limit.
# Clobbers the caller-saved registers.
.globl meta_field
meta_field:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    mov r14, rcx
    cmp r12, META_PREFIX_LEN
    jbe 3f
    lea rsi, [rip + meta_prefix_lc]
    mov edx, META_PREFIX_LEN
    call ci_eq
    test eax, eax
    jz 3f
    lea r15, [r12 - META_PREFIX_LEN]      # the name after the prefix
    cmp r15, META_NAME_MAX
    ja .Lmf_bad
    inc qword ptr [rip + w_meta_items]
    cmp qword ptr [rip + w_meta_items], META_ITEMS_MAX
    ja .Lmf_bad
    lea rax, [r15 + r14]
    add rax, qword ptr [rip + w_meta_bytes]
    mov qword ptr [rip + w_meta_bytes], rax
    cmp rax, META_BYTES_MAX
    ja .Lmf_bad
    lea rdi, [r12 + r14 + 4]              # "Name: value\r\n"
    call meta_room
    test rax, rax
    jz .Lmf_bad
    mov rdi, rax
    lea rsi, [rip + meta_prefix_canon]    # "X-Object-Meta-", then the name with
    mov edx, META_PREFIX_LEN              # each word capitalized, as Swift does
    call copy
    lea rsi, [rbx + META_PREFIX_LEN]
    mov ecx, 1                            # 1: the next letter starts a word
1:  test r15, r15
    jz 2f
    movzx edx, byte ptr [rsi]
    lea r8d, [rdx - 'a']
    lea r9d, [rdx - 'A']
    test ecx, ecx
    jz 4f
    cmp r8d, 25
    ja 5f
    sub edx, 0x20
    jmp 5f
4:  cmp r9d, 25
    ja 5f
    add edx, 0x20
5:  xor ecx, ecx
    cmp edx, '-'
    sete cl
    mov byte ptr [rax], dl
    inc rax
    inc rsi
    dec r15
    jmp 1b
2:  mov rdi, rax
    jmp .Lmf_value
3:  cmp r12, 11                           # X-Delete-At: UNIX-SECONDS
    jne 10f
    mov rdi, rbx
    lea rsi, [rip + name_delete_at]
    mov edx, 11
    call ci_eq
    test eax, eax
    jz 10f
    mov rdi, r13
    mov rsi, r14
    call parse_u64
    test edx, edx
    jnz .Lmf_bad_time
    jmp 11f
10: cmp r12, 14                           # X-Delete-After: SECONDS
    jne 12f
    mov rdi, rbx
    lea rsi, [rip + name_delete_after]
    mov edx, 14
    call ci_eq
    test eax, eax
    jz 12f
    mov rdi, r13
    mov rsi, r14
    call parse_u64
    test edx, edx
    jnz .Lmf_bad_time
    mov rcx, DELETE_AT_MAX
    cmp rax, rcx
    ja .Lmf_bad_time
    add rax, qword ptr [rip + w_unix]
11: cmp qword ptr [rip + w_meta_delete_at], 0  # one of them, once
    jne .Lmf_bad_time
    cmp rax, qword ptr [rip + w_unix]     # in the future (the clock's second)
    jbe .Lmf_bad_time
    mov rcx, DELETE_AT_MAX
    cmp rax, rcx
    ja .Lmf_bad_time
    mov qword ptr [rip + w_meta_delete_at], rax
    jmp .Lmf_none                         # (meta_finish writes its line)
12: lea r15, [rip + meta_fields]          # a representation field?
6:  movzx ecx, byte ptr [r15]
    test ecx, ecx
    jz .Lmf_none
    cmp rcx, r12
    jne 7f
    mov rdi, rbx
    lea rsi, [r15 + 2]
    mov rdx, r12
    call ci_eq
    test eax, eax
    jnz 8f
7:  movzx ecx, byte ptr [r15]
    lea r15, [r15 + rcx * 2 + 2]          # its lowercase and canonical spellings
    jmp 6b
8:  cmp r14, META_VALUE_MAX
    ja .Lmf_bad
    cmp byte ptr [r15 + 1], 2             # Cache-Control: one line
    je .Lmf_cc
    cmp byte ptr [r15 + 1], 1             # Content-Type: one only
    jne 9f
    cmp dword ptr [rip + w_meta_ct], 0
    jne .Lmf_bad
    mov dword ptr [rip + w_meta_ct], 1
9:  lea rdi, [r12 + r14 + 4]
    call meta_room
    test rax, rax
    jz .Lmf_bad
    mov rdi, rax
    lea rsi, [r15 + r12 + 2]              # the canonical spelling
    mov rdx, r12
    call copy
    mov rdi, rax
.Lmf_value:                               # rdi = where ": value\r\n" goes
    mov word ptr [rdi], 0x203a            # ": "
    lea rdi, [rdi + 2]
    mov rsi, r13
    mov rdx, r14
    call copy
    mov word ptr [rax], 0x0a0d
    lea rcx, [rip + w_meta]
    sub rax, rcx
    lea rdx, [rax + 2]
    mov qword ptr [rip + w_meta_len], rdx
    test r15, r15                         # a representation field (r15: its entry;
    jz .Lmf_none                          # an X-Object-Meta-* name leaves it 0)
    cmp byte ptr [r15 + 1], 2             # Cache-Control's first line: where it ends
    jne .Lmf_none
    mov qword ptr [rip + w_meta_cc_end], rax
    mov qword ptr [rip + w_meta_cc_len], r14
.Lmf_none:
    xor eax, eax
.Lmf_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# Cache-Control is kept as one line, the values of all its fields joined by
# ", " (a list-based field, RFC 9110 5.3), of at most CC_VALUE_MAX bytes: a
# 304 must carry it (RFC 9110 15.4.5), and it then fits in the 304's head.
.Lmf_cc:
    mov rax, qword ptr [rip + w_meta_cc_len]
    cmp qword ptr [rip + w_meta_cc_end], 0
    je 14f
    lea rax, [rax + r14 + 2]              # a later one: ", value" at the line's end
    cmp rax, CC_VALUE_MAX
    ja .Lmf_bad
    lea rdi, [r14 + 2]
    call meta_room                        # (the block grows by that much)
    test rax, rax
    jz .Lmf_bad
    lea r8, [rip + w_meta]                # what follows the line moves on, from
    mov rcx, qword ptr [rip + w_meta_len] # its last byte back (they overlap)
    mov rdx, qword ptr [rip + w_meta_cc_end]
    lea rsi, [r8 + rcx - 1]
    lea rdi, [rsi + r14 + 2]
    sub rcx, rdx
    std
    rep movsb
    cld
    lea rdi, [r8 + rdx]
    mov word ptr [rdi], 0x202c            # ", "
    add rdi, 2
    mov rsi, r13
    mov rdx, r14
    call copy
    lea rax, [r14 + 2]
    add qword ptr [rip + w_meta_len], rax
    add qword ptr [rip + w_meta_cc_end], rax
    add qword ptr [rip + w_meta_cc_len], rax
    jmp .Lmf_none
14: cmp r14, CC_VALUE_MAX                 # the first: a line as any other's
    ja .Lmf_bad                           # (.Lmf_value notes where it ends)
    jmp 9b
.Lmf_bad:
    mov eax, R_400_META
    jmp .Lmf_out
.Lmf_bad_time:
    mov eax, R_400_EXPIRY
    jmp .Lmf_out

# meta_room: rdi = bytes a line needs. Returns rax = where it goes in w_meta,
# or 0 if the block would not fit with its end (a default Content-Type and
# the empty line). Clobbers rcx.
meta_room:
    mov rax, qword ptr [rip + w_meta_len]
    lea rcx, [rax + rdi + META_END_ROOM]
    cmp rcx, META_CAP
    ja 1f
    lea rcx, [rip + w_meta]
    add rax, rcx
    ret
1:  xor eax, eax
    ret

# meta_finish: (event loop) rdi = the write handle of a write whose head is
# parsed. If the head carried metadata or an expiry, ends the block in w_meta
# (Content-Type: application/octet-stream if it named none, X-Delete-At with
# the time it expires at, then the empty line), fills its prefix (MP_*: its
# length and CRC, the expiry or 0) and gives the handle the bytes its
# record's value region holds before the value (WH_META, WH_META_LEN) and
# the expiry (WH_DELETE_AT); else WH_META_LEN = 0 (a v1 record). Clobbers
# the caller-saved registers.
.globl meta_finish
meta_finish:
    push rbx
    mov rbx, rdi
    mov dword ptr [rbx + WH_META_LEN], 0
    mov qword ptr [rbx + WH_META], 0
    mov qword ptr [rbx + WH_DELETE_AT], 0
    mov rax, qword ptr [rip + w_meta_len]
    cmp rax, MP_SIZE
    jne 2f
    cmp qword ptr [rip + w_meta_delete_at], 0
    je 9f
2:  lea rdi, [rip + w_meta]
    add rdi, rax
    cmp dword ptr [rip + w_meta_ct], 0    # (meta_room kept room for all three)
    jne 1f
    lea rsi, [rip + meta_default]
    mov edx, META_DEFAULT_LEN
    call copy
    mov rdi, rax
1:  mov rsi, qword ptr [rip + w_meta_delete_at]
    test rsi, rsi
    jz 3f
    push rsi
    push rsi
    lea rsi, [rip + name_delete_at_canon] # "X-Delete-At: N"
    mov edx, 13
    call copy
    mov rdi, rax
    pop rsi
    pop rsi
    call fmt_u64
    mov word ptr [rax], 0x0a0d
    lea rdi, [rax + 2]
3:  mov word ptr [rdi], 0x0a0d            # the head's end
    lea rax, [rdi + 2]
    lea rsi, [rip + w_meta]
    sub rax, rsi
    mov qword ptr [rip + w_meta_len], rax
    mov dword ptr [rbx + WH_META_LEN], eax
    mov qword ptr [rbx + WH_META], rsi
    lea rdx, [rax - MP_SIZE]
    mov dword ptr [rsi + MP_LEN], edx
    mov rcx, qword ptr [rip + w_meta_delete_at]
    mov qword ptr [rsi + MP_DELETE_AT], rcx
    mov qword ptr [rbx + WH_DELETE_AT], rcx
    add rsi, MP_DELETE_AT                 # (the expiry and the block)
    add rdx, MP_SIZE - MP_DELETE_AT
    xor edi, edi
    call crc32c
    mov dword ptr [rip + w_meta + MP_CRC], eax
9:  pop rbx
    ret

# meta_block_ok: rdi = a v2 record's value region as read (its prefix and
# block), rsi = the bytes of it read, rdx = the value region's length
# (REC_VLEN). Returns rax = the bytes before the value (MP_SIZE and the
# block) if the block is all there, fits the region, ends the head and checks
# out against MP_CRC; else 0. Clobbers the caller-saved registers.
.globl meta_block_ok
meta_block_ok:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    xor eax, eax
    cmp rsi, MP_SIZE
    jb 9f
    mov r12d, dword ptr [rbx + MP_LEN]
    cmp r12, 2
    jb 8f
    cmp r12, META_CAP
    ja 8f
    lea rcx, [r12 + MP_SIZE]
    cmp rcx, rsi
    ja 8f
    cmp rcx, rdx
    ja 8f
    cmp word ptr [rbx + rcx - 2], 0x0a0d
    jne 8f
    xor edi, edi
    lea rsi, [rbx + MP_DELETE_AT]         # the expiry and the block
    lea rdx, [r12 + MP_SIZE - MP_DELETE_AT]
    call crc32c
    cmp eax, dword ptr [rbx + MP_CRC]
    jne 8f
    lea rax, [r12 + MP_SIZE]
    jmp 9f
8:  xor eax, eax
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# meta_cache_control: rdi = a value's block as store_get checked it (its
# answer lines, then the empty line), rsi = its length. Returns rax = its
# Cache-Control line (from the name to the CRLF that ends it) and rdx = the
# line's length; rax = 0 if it has none, 1 if it has more than one (a 304
# must carry them all: the caller answers 200 instead). A 304 carries it (RFC
# 9110 15.4.5). Clobbers rcx, rsi, rdi, r8, r9, r10.
.globl meta_cache_control
meta_cache_control:
    lea r8, [rdi + rsi]                   # the block's end
    xor r9d, r9d                          # the line found, and its length
    xor r10d, r10d
1:  lea rax, [rdi + 13 + 2]
    cmp rax, r8
    ja 8f
    mov rax, rdi                          # the line's first byte
    xor ecx, ecx
2:  cmp ecx, 13                           # its name, as meta_field spelled it
    je 4f
    mov dl, byte ptr [rdi + rcx]
    lea rsi, [rip + cache_control]
    cmp dl, byte ptr [rsi + rcx]
    jne 5f
    inc ecx
    jmp 2b
4:  cmp byte ptr [rdi + 13], ':'
5:  setne cl                              # cl = 1: not it; find its end
    lea rdx, [rdi + 1]
6:  cmp rdx, r8
    jae 8f
    cmp word ptr [rdx - 1], 0x0a0d
    je 7f
    inc rdx
    jmp 6b
7:  lea rdi, [rdx + 1]                    # the next line
    test cl, cl
    jnz 1b
    test r9, r9
    jnz 9f                                # a second one
    mov r9, rax
    mov r10, rdi
    sub r10, rax
    jmp 1b
8:  mov rax, r9
    mov rdx, r10
    ret
9:  mov eax, 1
    ret

# loc_expired: (event loop) rdi = a LOC naming a value. Returns eax = 1 if
# its record expires (MP_DELETE_AT) and that time has come (w_unix), 0 if not
# (also if it cannot be read: the caller's own read says why), -1 if its
# segment is gone (compacted since the LOC was read: look again). Reads the
# record only if its segment holds puts that expire (SGF_EXPIRY), one of which
# may have (SG_EXPIRE_MIN): its header
# and prefix, and its block (which must check out) only when it says expired.
# Clobbers the caller-saved registers and w_rec.
.globl loc_expired
loc_expired:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    call loc_entry
    test dword ptr [rax + SG_FLAGS], SGF_EXPIRY
    jz 8f
    mov rcx, qword ptr [rax + SG_EXPIRE_MIN]  # none of its puts has expired yet
    test rcx, rcx                         # (0: not known)
    jz 3f
    cmp rcx, qword ptr [rip + w_unix]
    ja 8f
3:
    mov rdi, rbx
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    jz 8f
    call seg_fd
    test rax, rax
    jns 1f
    cmp rax, -ENOENT
    jne 8f
    mov eax, -1
    jmp 9f
1:  mov r12d, eax                         # the segment
    mov edi, eax
    lea rsi, [rip + w_rec]
    mov edx, REC_SMALL
    mov rcx, LOC_OFF_MASK
    and rcx, rbx
    call pread_full
    test rax, rax
    js 8f
    mov r13, rax                          # the bytes read
    lea rdi, [rip + w_rec]
    mov rsi, rax
    call rec_header_ok
    test eax, eax
    jz 8f
    cmp dword ptr [rip + w_rec + REC_MAGIC], REC_MAGIC_V2
    jne 8f
    mov eax, dword ptr [rip + w_rec + REC_KLEN]
    lea rcx, [rax + REC_HDR + MP_SIZE]
    cmp r13, rcx
    jb 8f
    lea rcx, [rip + w_rec + REC_HDR]
    mov rax, qword ptr [rcx + rax + MP_DELETE_AT]
    call expired_at
    test eax, eax
    jz 8f
    mov eax, dword ptr [rip + w_rec + REC_KLEN]  # it says expired: believed once
    lea rcx, [rip + w_rec + REC_HDR]      # its block checks out (read on if it
    mov edx, dword ptr [rcx + rax + MP_LEN]  # did not all come)
    lea rdx, [rdx + rax + REC_HDR + MP_SIZE]
    cmp rdx, r13
    jbe 2f
    cmp rdx, REC_BUF
    ja 8f
    mov edi, r12d
    lea rsi, [rip + w_rec]
    mov rcx, LOC_OFF_MASK
    and rcx, rbx
    call pread_full
    test rax, rax
    js 8f
    mov r13, rax
2:  mov eax, dword ptr [rip + w_rec + REC_KLEN]
    lea rdi, [rip + w_rec + REC_HDR]
    add rdi, rax
    mov rsi, r13
    sub rsi, rax
    sub rsi, REC_HDR
    mov rdx, qword ptr [rip + w_rec + REC_VLEN]
    call meta_block_ok
    test rax, rax
    jz 8f
    mov eax, 1
    jmp 9f
8:  xor eax, eax
9:  pop r13
    pop r12
    pop rbx
    ret

# expired_at: rax = an expiry (Unix seconds, 0: never). Returns eax = 1 if it
# has come (w_unix: the clock's second, as of the last tick), else 0.
# Clobbers nothing else.
.globl expired_at
expired_at:
    test rax, rax
    jz 1f
    cmp rax, qword ptr [rip + w_unix]
    ja 1f
    mov eax, 1
    ret
1:  xor eax, eax
    ret

# expiry_stats: returns rax = expired values compaction has given back.
# Clobbers nothing else.
.globl expiry_stats
expiry_stats:
    mov rax, qword ptr [rip + ix_base]
    mov rax, qword ptr [rax + IX_EXPIRED]
    ret

.section .rodata
name_delete_at:    .ascii "x-delete-at"
name_delete_after: .ascii "x-delete-after"
name_delete_at_canon: .ascii "X-Delete-At: "
meta_prefix_lc:    .ascii "x-object-meta-"
                                         # (META_PREFIX_LEN bytes)
meta_prefix_canon: .ascii "X-Object-Meta-"
meta_default:      .ascii "Content-Type: application/octet-stream\r\n"
                                         # (META_DEFAULT_LEN bytes)
# the representation fields kept: length, 1 for Content-Type (else 0), the
# name in lowercase, then as it is answered; a 0 ends the list
meta_fields:
    .byte 12, 1
    .ascii "content-type", "Content-Type"
    .byte 16, 0
    .ascii "content-encoding", "Content-Encoding"
    .byte 16, 0
    .ascii "content-language", "Content-Language"
    .byte 19, 0
    .ascii "content-disposition", "Content-Disposition"
    .byte 13, 2                           # (2: one line, .Lmf_cc)
    .ascii "cache-control"
cache_control: .ascii "Cache-Control"        # (meta_cache_control looks for it)
    .byte 0

.bss
.p2align 3
.globl w_meta
w_meta:       .space META_CAP            # the head being parsed's block, with its prefix
w_meta_len:   .space 8                   # its bytes so far, prefix included
w_meta_items: .space 8                   # X-Object-Meta-* fields in it
w_meta_bytes: .space 8                   #   their names' and values' bytes
w_meta_delete_at: .space 8               # when the write is to expire (Unix seconds), 0: never
w_meta_cc_end: .space 8                  # its Cache-Control line's CRLF, by offset; 0: none
w_meta_cc_len: .space 8                  #   and the line's value's length
w_meta_ct:    .space 4                   # 1: it holds a Content-Type
.text
