# hint.s - hint files: "ID.hint" lists the sealed records of segment ID (key,
# place, sequence number), so startup need not read the segment itself.
#
# The compactor writes one for each segment that no process writes to any
# more (no one's active segment, no record open in it): it flushes the
# segment (under --sync none its records may not be on disk yet), reads it as
# recovery would, writes the list to a temporary file ".tmp-hint-ID" and
# renames it into place. A segment never changes once it has a hint; the hint
# is removed before its segment is. At startup a hint is used only if its
# magic and its CRC32C (over the whole file) check out; otherwise the segment
# is read record by record. A hint lost in a crash costs only time.
.text

# hint_name: rdi = buffer (HINT_NAME_CAP), rsi = segment id. Writes "ID.hint",
# NUL-terminated. Clobbers rax, rcx, rdx, rdi, r8, r9.
.globl hint_name
hint_name:
    call fmt_u64
    mov dword ptr [rax], 0x6e69682e       # ".hin"
    mov word ptr [rax + 4], 0x0074        # "t", NUL
    ret

# remove_orphan_hints: (master, at startup, before recovery) removes every
# hint file whose segment is gone. Segment ids can be handed out again after
# a restart (numbering resumes from the highest segment left), so a hint that
# outlived its segment would be read as the index of a different, newer one.
# Returns rax = 0 or -errno. Clobbers the caller-saved registers.
.globl remove_orphan_hints
remove_orphan_hints:
    lea rdi, [rip + orphan_hint]
    xor esi, esi
    jmp dir_walk

# orphan_hint: (dir_walk) rdi = an entry's name. Removes "ID.hint" if there is
# no "ID.seg". Returns rax = 0 or -errno. Clobbers the caller-saved registers.
orphan_hint:
    push rbx
    push r12
    sub rsp, SEG_NAME_CAP + 8
    mov rbx, rdi
    call cstr_len
    cmp rax, 6
    jb 9f
    cmp dword ptr [rbx + rax - 5], 0x6e69682e   # ".hin"
    jne 9f
    cmp byte ptr [rbx + rax - 1], 't'
    jne 9f
    mov rdi, rbx
    lea rsi, [rax - 5]
    call parse_seg_id
    test rax, rax
    jz 9f
    mov rdi, rsp
    mov rsi, rax
    call seg_stat
    cmp rax, -ENOENT
    jne 9f
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rbx
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    cmp rax, -ENOENT
    je 9f
    test rax, rax
    js 8f
9:  xor eax, eax
8:  add rsp, SEG_NAME_CAP + 8
    pop r12
    pop rbx
    ret

# hint_write: (compactor) rdi = id of a segment no one writes to.
# Flushes and scans it; seals it (seal_append) unless it was sealed or the
# scan took a shape for a crash's (r_lax) or it is SGF_LAX; writes its hint
# file unless it has one. Gives up quietly on any failure (startup then reads
# the segment). Clobbers the caller-saved registers.
.globl hint_write
hint_write:
    push rbx
    push r12
    push r13
    sub rsp, 2 * HINT_NAME_CAP            # [rsp] the hint's name, then the temporary one
    mov rbx, rdi
    call seg_fd                           # the records a hint names must be on disk
    test rax, rax                         # before it is: under --sync none nothing
    js .Lhw_out                           # else flushed them, and a hint that outlived
    mov edi, eax                          # them in a power cut would point at zeros
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    js .Lhw_unsynced
    mov rdi, rbx                          # its flags: whether it expires puts (its
    call seg_entry                        # entries then carry their expiries)
    mov ecx, dword ptr [rax + SG_FLAGS]
    shr ecx, 5                            # SGF_EXPIRY is bit 5: HINT_F_EXPIRY, bit 0
    and ecx, HINT_F_EXPIRY
    mov rax, qword ptr [rip + c_hint]
    mov dword ptr [rax], HINT_MAGIC_V1
    mov dword ptr [rax + 4], ecx
    mov eax, HE_KEY                       # (where its entries' keys are)
    mov edx, HE_KEY_X
    test ecx, HINT_F_EXPIRY
    cmovnz eax, edx
    mov qword ptr [rip + c_hkey], rax
    mov qword ptr [rip + c_hn], 8
    mov qword ptr [rip + c_hend], 0
    mov qword ptr [rip + c_hfail], 0
    mov rdi, rsp
    mov rsi, rbx
    call seg_name
    mov rdi, rsp
    mov rsi, rbx
    lea rdx, [rip + hint_record]
    call scan_segment
    test rax, rax                         # damage (r_report marked the segment): no
    js .Lhw_out                           # hint, so every start reads and reports it
    jnz .Lhw_damaged                      # (not read to its end: later)
    mov rdi, rbx
    mov rsi, rsp
    call seg_whole                        # (a hint without a record the index names
    test eax, eax                         # would bring back an older value)
    jz .Lhw_damaged
    mov rdi, rbx
    call seg_entry
    mov r12, rax
    test dword ptr [r12 + SG_FLAGS], SGF_SEALED
    jnz 1f
    lock or dword ptr [r12 + SG_FLAGS], SGF_SEALED  # (decided: not again)
    cmp qword ptr [rip + r_lax], 0        # a crash's shapes in it (it was being
    jne 1f                                # written at a crash): no seal, they stay
    test dword ptr [r12 + SG_FLAGS], SGF_LAX  # what they are; nor if zeros in it
    jnz 1f                                # may be a record given up
    mov rdi, rbx
    mov rsi, qword ptr [rip + c_hend]
    call seal_append
1:  test dword ptr [r12 + SG_FLAGS], SGF_HINT
    jnz .Lhw_out                          # (sealed after its hint: a restored store)
    cmp qword ptr [rip + c_hfail], 0
    jne .Lhw_out
    xor edi, edi                          # the CRC of all of it, at its end
    mov rsi, qword ptr [rip + c_hint]
    mov rdx, qword ptr [rip + c_hn]
    call crc32c
    mov rcx, qword ptr [rip + c_hint]
    mov rdx, qword ptr [rip + c_hn]
    mov dword ptr [rcx + rdx], eax
    add qword ptr [rip + c_hn], 4
    lea rdi, [rsp + HINT_NAME_CAP]        # ".tmp-hint-ID": startup removes it if left
    lea rsi, [rip + hint_tmp]
    mov edx, OFFSET hint_tmp_len
    call copy
    mov rdi, rax
    mov rsi, rbx
    call fmt_u64
    mov byte ptr [rax], 0
    mov rdi, rsp
    mov rsi, rbx
    call hint_name
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rsp + HINT_NAME_CAP]
    mov edx, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lhw_out
    mov r12d, eax
    mov edi, eax
    mov rsi, qword ptr [rip + c_hint]
    mov rdx, qword ptr [rip + c_hn]
    call write_all
    mov r13, rax
    mov edi, r12d
    mov eax, SYS_close
    syscall
    test r13, r13
    js .Lhw_drop
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rsp + HINT_NAME_CAP]
    mov edx, edi
    mov r10, rsp
    mov eax, SYS_renameat
    syscall
    test rax, rax
    js .Lhw_drop
    mov rdi, rbx
    call seg_entry
    lock or dword ptr [rax + SG_FLAGS], SGF_HINT
.Lhw_out:
    add rsp, 2 * HINT_NAME_CAP
    pop r13
    pop r12
    pop rbx
    ret
.Lhw_unsynced:                            # the cache may hold what the disk never
    mov rdi, rbx                          # got: no seal, ever, in this run (seal.s)
    call seg_entry
    lock or dword ptr [rax + SG_FLAGS], SGF_LAX
    jmp .Lhw_out
.Lhw_damaged:                             # a segment sealed after its hint (a start
    mov rdi, rbx                          # that read no image) may have one: it goes,
    call seg_damaged                      # as compaction's and the scrubber's finds do
    jmp .Lhw_out
.Lhw_drop:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rsp + HINT_NAME_CAP]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    jmp .Lhw_out

# hint_record: a callback of scan_segment (rdi = LOC, rsi = length, key and
# sequence number in r_*): one entry of the hint. Clobbers the caller-saved registers.
hint_record:
    mov rdx, LOC_OFF_MASK                 # where the segment's records end, so far
    and rdx, rdi                          # (its seal's, even if it gets no hint)
    add rdx, rsi
    cmp rdx, qword ptr [rip + c_hend]
    jbe 3f
    mov qword ptr [rip + c_hend], rdx
3:  mov rax, qword ptr [rip + c_hn]
    mov rcx, qword ptr [rip + r_klen]
    lea rdx, [rax + rcx + 7 + 4]
    add rdx, qword ptr [rip + c_hkey]
    cmp rdx, HINT_MAX
    ja 1f
    mov rdx, rsi
    shr rdx, 32                           # HE_LEN is 32 bits: a segment holding a
    jnz 1f                                # record of 4 GiB or more gets no hint
    add rax, qword ptr [rip + c_hint]
    mov rdx, qword ptr [rip + r_seq]
    mov qword ptr [rax + HE_SEQ], rdx
    mov rdx, LOC_OFF_MASK | LOC_TOMB
    and rdx, rdi
    mov qword ptr [rax + HE_LOC], rdx
    mov dword ptr [rax + HE_LEN], esi
    mov dword ptr [rax + HE_KLEN], ecx
    mov rdi, qword ptr [rip + c_hkey]
    mov rdx, qword ptr [rip + r_delete_at]  # (the scan's, of this record)
    cmp rdi, HE_KEY_X                     # a hint of a segment that expires puts:
    jne 2f                                # each entry's expiry
    mov qword ptr [rax + HE_DELETE_AT], rdx
    jmp 4f
2:  test rdx, rdx                         # one the segment did not say it had: no
    jnz 1f                                # hint (a start reads it)
4:  add rdi, rax
    lea rsi, [rip + r_key]
    mov rdx, rcx
    call copy
    mov rcx, qword ptr [rip + r_klen]
    add rcx, qword ptr [rip + c_hkey]
    add rcx, 7
    and rcx, -8
    add qword ptr [rip + c_hn], rcx
    ret
1:  mov qword ptr [rip + c_hfail], 1
    ret

# hint_unlink: rdi = segment id. Removes its hint file, if any (before the
# segment itself goes). Returns rax = 0 or -errno (-ENOENT: it had none).
# Clobbers the caller-saved registers.
.globl hint_unlink
hint_unlink:
    sub rsp, HINT_NAME_CAP + 8
    mov rsi, rdi
    mov rdi, rsp
    call hint_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    add rsp, HINT_NAME_CAP + 8
    ret

# hint_open: rdi = a buffer (HINT_NAME_CAP), rsi = a segment id. Opens its
# hint for reading (its name left in the buffer). Returns rax = the
# descriptor or -errno (-ENOENT: it has none). Clobbers the caller-saved
# registers.
.globl hint_open
hint_open:
    push rdi
    call hint_name
    mov edi, dword ptr [rip + dir_fd]
    pop rsi
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    ret

# hint_load: (master, recovery) rdi = segment id. If the segment has a hint
# file that checks out, puts its records in the index (recover_record) and
# returns eax = 1; else eax = 0 and the segment is to be read. A segment
# shorter than the records its hint lists was cut after it was sealed: the
# part cut off is reported (r_report), the keys of the records in it get
# LOC_DAMAGED (r_damaged_publish), and eax = 0 (the rest is read).
# Clobbers the caller-saved registers.
.globl hint_load
hint_load:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, HINT_NAME_CAP
    mov rbx, rdi
    xor r14d, r14d                        # the result
    mov rdi, rsp
    mov rsi, rbx
    call hint_open
    test rax, rax
    js .Lhl_out
    mov r12d, eax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lhl_close
    mov r13, qword ptr [rip + w_stat + ST_SIZE]
    cmp r13, 12
    jb .Lhl_close
    cmp r13, HINT_MAX
    ja .Lhl_close
    xor edi, edi
    mov rsi, r13
    mov edx, PROT_READ
    mov r10d, MAP_PRIVATE
    mov r8d, r12d
    xor r9d, r9d
    mov eax, SYS_mmap
    syscall
    cmp rax, -4096
    ja .Lhl_close
    mov r15, rax                          # the hint, in memory
    cmp dword ptr [r15], HINT_MAGIC_V1
    jne .Lhl_unmap
    xor edi, edi
    mov rsi, r15
    lea rdx, [r13 - 4]
    call crc32c
    cmp eax, dword ptr [r15 + r13 - 4]
    jne .Lhl_unmap
    mov eax, HE_KEY                       # puts that expire: each entry has its
    mov ecx, HE_KEY_X                     # expiry before its key
    test dword ptr [r15 + 4], HINT_F_EXPIRY
    cmovnz eax, ecx
    mov qword ptr [rip + r_hkey], rax
    mov qword ptr [rip + r_delete_at], 0
    mov dword ptr [rip + r_hpass], 0      # every entry checked first, then put in
    mov qword ptr [rip + r_hend], 0
0:  mov qword ptr [rip + r_hoff], 8       # the index: a bad one half-way must not
1:  mov rax, qword ptr [rip + r_hoff]     # leave the first half counted before the
                                          # segment is read (and counted) again
    mov rcx, qword ptr [rip + r_hkey]
    add rcx, rax
    lea rdx, [r13 - 4]
    cmp rcx, rdx
    ja 2f
    lea rsi, [r15 + rax]
    mov ecx, dword ptr [rsi + HE_KLEN]
    test ecx, ecx
    jz .Lhl_unmap
    cmp ecx, NAME_MAX
    ja .Lhl_unmap
    lea rdi, [rax + rcx]
    add rdi, qword ptr [rip + r_hkey]
    cmp rdi, rdx
    ja .Lhl_unmap
    mov qword ptr [rip + r_klen], rcx
    mov rdi, qword ptr [rsi + HE_LOC]     # an offset, and LOC_TOMB: nothing else
    mov rax, ~(LOC_OFF_MASK | LOC_TOMB)
    test rdi, rax
    jnz .Lhl_unmap
    mov eax, dword ptr [rsi + HE_LEN]
    test eax, 7
    jnz .Lhl_unmap
    btr rdi, LOC_TOMB_BIT
    add rdi, rax                          # where the record ends
    cmp dword ptr [rip + r_hpass], 2
    je .Lhl_lost
    cmp dword ptr [rip + r_hpass], 0
    jne 5f                                # (the first pass only checks, and finds
    cmp rdi, qword ptr [rip + r_hend]     # where the last record ends)
    jbe 3f
    mov qword ptr [rip + r_hend], rdi
    jmp 3f
5:
    mov rdx, qword ptr [rsi + HE_SEQ]
    mov qword ptr [rip + r_seq], rdx
    xor edx, edx                          # its expiry (recover_record marks the
    cmp qword ptr [rip + r_hkey], HE_KEY_X  # segment: seg_expiry)
    jne 6f
    mov rdx, qword ptr [rsi + HE_DELETE_AT]
6:  mov qword ptr [rip + r_delete_at], rdx
    lea rdi, [rip + r_key]
    add rsi, qword ptr [rip + r_hkey]
    mov rdx, rcx
    call copy
    mov rax, qword ptr [rip + r_hoff]
    lea rsi, [r15 + rax]
    mov rdi, qword ptr [rsi + HE_LOC]
    mov rax, rbx
    shl rax, LOC_SEG_SHIFT
    or rdi, rax
    mov esi, dword ptr [rsi + HE_LEN]
    call loc_sized
    mov rdi, rax
    call recover_record
3:  mov rcx, qword ptr [rip + r_klen]
    add rcx, qword ptr [rip + r_hkey]
    add rcx, 7
    and rcx, -8
    add qword ptr [rip + r_hoff], rcx
    jmp 1b
2:  cmp dword ptr [rip + r_hpass], 0      # all checked: now put them in, unless
    jne 4f                                # the segment is too short for them
    mov rdi, rsp                          # (the hint's name is not needed again)
    mov rsi, rbx
    call seg_stat
    mov dword ptr [rip + r_hpass], 1
    test rax, rax
    js 0b                                 # (its read will say what is wrong)
    mov rax, qword ptr [rip + w_stat + ST_SIZE]
    mov qword ptr [rip + r_hsize], rax
    cmp rax, qword ptr [rip + r_hend]
    jae 0b
    mov dword ptr [rip + r_hpass], 2      # cut: the lost records' keys, then say it
    jmp 0b
4:  cmp dword ptr [rip + r_hpass], 2
    je .Lhl_cut
    mov r14d, 1
    mov rdi, rbx
    call seg_entry
    or dword ptr [rax + SG_FLAGS], SGF_HINT
    jmp .Lhl_unmap
.Lhl_lost:                                # a cut segment: rdi = where this record ends
    cmp rdi, qword ptr [rip + r_hsize]
    jbe 3b                                # whole on disk: its read finds it
    push rsi
    push rcx
    lea rdi, [rip + r_key]
    add rsi, qword ptr [rip + r_hkey]
    mov rdx, rcx
    call copy
    pop rcx
    pop rsi
    mov rdi, qword ptr [rsi + HE_SEQ]
    call r_damaged_publish
    jmp 3b
.Lhl_cut:
    mov dword ptr [rip + r_cut_said], 1   # (the segment's read must not say it again)
    mov qword ptr [rip + r_name], rsp     # (r_report names the segment and takes
    push r13                              # its id from r13, as in a scan)
    mov r13, rbx
    shl r13, LOC_SEG_SHIFT
    mov rdi, qword ptr [rip + r_hsize]
    mov rsi, qword ptr [rip + r_hend]
    sub rsi, rdi
    mov edx, 2
    call r_report
    pop r13
.Lhl_unmap:
    mov rdi, r15
    mov rsi, r13
    mov eax, SYS_munmap
    syscall
.Lhl_close:
    mov edi, r12d
    mov eax, SYS_close
    syscall
.Lhl_out:
    mov eax, r14d
    add rsp, HINT_NAME_CAP
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

.section .rodata
hint_tmp: .ascii ".tmp-hint-"
.equ hint_tmp_len, . - hint_tmp

.bss
.p2align 3
.globl c_hint
c_hint:   .space 8                   # (compactor) the hint being built, HINT_MAX reserved
c_hn:     .space 8                   # its length so far
c_hfail:  .space 8                   # 1: too large, give up
r_hoff:   .space 8                   # (recovery) the entry being read
r_hpass:  .space 8                   # (recovery) 0: checking every entry, 1: putting them in,
                                     #   2: the segment is cut: the lost ones' keys (.Lhl_lost)
r_hend:   .space 8                   # (recovery) where the hint's last record ends
c_hend:   .space 8                   # (compactor) where the records of the hint being made end
r_hsize:  .space 8                   # (recovery) the segment's size
r_hkey:   .space 8                   # (recovery) where an entry's key starts: HE_KEY, or
                                     #   HE_KEY_X in a hint with HINT_F_EXPIRY
c_hkey:   .space 8                   # (compactor) the same, for the hint being made
.text
