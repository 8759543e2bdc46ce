# seal.s - segments' seals: where a segment's records ended once it was
# sealed, kept apart from the segment and its hint (".asmkv-seals").
#
# A start reads a segment without a hint record by record, and must tell what
# a crash leaves (a torn record, zeros where a cut write did not reach the
# disk, a file that ends early) from damage. A crash leaves those shapes only
# in a segment that was being written at that moment. Once the compactor has
# seen a segment sealed (seg_sealed), flushed it and scanned it whole with no
# such shape in it (hint_write), it appends the segment's id and where its
# last record ends to the seals file; from then on, below that end, every such
# shape is damage and a shorter file is a cut - at a start (scan_segment's
# r_strict) as at run time - whether or not the hint is still there.
#
# An entry is true for as long as its segment exists (a sealed segment never
# changes). Segment ids can come again after a restart (numbering resumes at
# the highest left), so the master rewrites the file from the index before any
# new segment is made (seals_rewrite): an entry of a segment that is gone
# never reaches one that takes its id. The compactor rewrites it too once
# SEALS_SLACK segments with entries were removed, so it holds the live
# segments' entries and at most that many more.
.text

# seals_load: (master, before the loaders) takes each entry of the seals file
# whose magic and CRC check out and whose id is at most r_maxid (the highest
# segment there is; above it an entry is of a segment gone, whose id a new one
# may take): SG_SEAL_END and SGF_SEALED. No file: none. A file that cannot be
# read is said, and then no segment is sealed (each is read as before seals).
# Clobbers the caller-saved registers.
.globl seals_load
seals_load:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_name]
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK  # (a FIFO there
    xor r10d, r10d                        # must not hold the start)
    mov eax, SYS_openat
    syscall
    cmp rax, -ENOENT
    je 9f
    test rax, rax
    js 8f
    mov ebx, eax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js 7f
    mov eax, dword ptr [rip + w_stat + ST_MODE]
    and eax, S_IFMT
    cmp eax, S_IFREG
    mov rax, -EINVAL                      # not a file: not ours
    jne 7f
    mov r12, qword ptr [rip + w_stat + ST_SIZE]
    test r12, r12
    jz 6f
    mov rax, -EFBIG
    cmp r12, SEALS_MAX
    ja 7f
    xor edi, edi
    mov rsi, r12
    mov edx, PROT_READ
    mov r10d, MAP_PRIVATE
    mov r8d, ebx
    xor r9d, r9d
    mov eax, SYS_mmap
    syscall
    cmp rax, -4096
    ja 7f
    mov r13, rax
    xor r14d, r14d                        # the entry's offset
1:  lea rax, [r14 + SE_SIZE]
    cmp rax, r12
    ja 5f                                 # (a torn last one: not read)
    cmp dword ptr [r13 + r14 + SE_MAGIC], SEAL_MAGIC_V1
    jne 4f
    xor edi, edi
    lea rsi, [r13 + r14 + 8]
    mov edx, SE_SIZE - 8
    call crc32c
    cmp eax, dword ptr [r13 + r14 + SE_CRC]
    jne 4f
    mov rdi, qword ptr [r13 + r14 + SE_ID]
    test rdi, rdi
    jz 4f
    cmp rdi, qword ptr [rip + r_maxid]
    ja 4f
    mov rcx, qword ptr [r13 + r14 + SE_END]
    test rcx, rcx
    jz 4f
    call seg_entry
    mov qword ptr [rax + SG_SEAL_END], rcx
    or dword ptr [rax + SG_FLAGS], SGF_SEALED
4:  add r14, SE_SIZE
    jmp 1b
5:  mov rdi, r13
    mov rsi, r12
    mov eax, SYS_munmap
    syscall
6:  mov edi, ebx
    mov eax, SYS_close
    syscall
    jmp 9f
7:  mov r12, rax
    mov edi, ebx
    mov eax, SYS_close
    syscall
    mov rax, r12
8:  mov ecx, eax
    neg ecx
    lea rdi, [rip + m_seals_read]
    mov esi, OFFSET m_seals_read_len
    lea rdx, [rip + seals_name]
    call log_line
9:  add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# seals_rewrite: (master at a start, before any segment is made; compactor)
# writes the seals file anew from the index: an entry for each segment that
# has records, is not gone and has SG_SEAL_END; through ".tmp-seals", flushed,
# renamed over the old one, the directory flushed. If any step fails, the old
# file is removed instead (the directory flushed): no entry outlives its
# segment. Returns rax = 0, or -errno if even that failed.
# Leaves the compactor's c_seals_fd, c_seals_len and c_seals_gone for the file
# there is now (seals_open). Clobbers the caller-saved registers.
.globl seals_rewrite
seals_rewrite:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov ebx, 1                            # no entry to write: no file (none new,
1:  mov rax, qword ptr [rip + ix_base]    # no old one)
    cmp rbx, qword ptr [rax + IX_SEGID]
    ja .Lsw_drop
    cmp rbx, SEG_ID_MAX                   # (IX_SEGID may have run past the table)
    ja .Lsw_drop
    mov rdi, rbx
    call seal_kept
    inc rbx
    test rax, rax
    jz 1b
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_tmp]
    mov edx, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lsw_drop
    mov r12d, eax                         # the new file
    xor r13d, r13d                        # bytes in seal_buf
    mov ebx, 1                            # the segment id
1:  mov rax, qword ptr [rip + ix_base]
    cmp rbx, qword ptr [rax + IX_SEGID]
    ja 3f
    cmp rbx, SEG_ID_MAX
    ja 3f
    mov rdi, rbx
    call seal_kept
    mov rsi, rax
    test rsi, rsi
    jz 2f
    lea rdi, [rip + seal_buf]
    add rdi, r13
    mov rdx, rbx
    call seal_entry
    add r13, SE_SIZE
    cmp r13, SEAL_BUF
    jb 2f
    call .Lsw_flush
    test rax, rax
    js .Lsw_fail
2:  inc rbx
    jmp 1b
3:  call .Lsw_flush
    test rax, rax
    js .Lsw_fail
    mov edi, r12d
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    js .Lsw_fail
    mov edi, r12d
    mov eax, SYS_close
    syscall
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_tmp]
    mov edx, edi
    lea r10, [rip + seals_name]
    mov eax, SYS_renameat
    syscall
    test rax, rax
    js .Lsw_unlink_tmp
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js .Lsw_drop
    jmp .Lsw_out
.Lsw_fail:
    mov edi, r12d
    mov eax, SYS_close
    syscall
.Lsw_unlink_tmp:
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_tmp]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
.Lsw_drop:                                # no new file: no old one either
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_name]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    cmp rax, -ENOENT
    je .Lsw_out                           # (none: nothing to make durable)
    test rax, rax
    js 2f
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js 2f
.Lsw_out:
    xor edi, edi
    call seals_open
    xor eax, eax
2:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
# seal_kept: rdi = segment id. Returns rax = where its seal says its records
# end if the seals file keeps its entry (it has records or damage, is not
# gone, and has a seal), else 0. Clobbers nothing else.
seal_kept:
    push rcx
    call seg_entry
    mov rcx, rax
    xor eax, eax
    test dword ptr [rcx + SG_FLAGS], SGF_GONE
    jnz 1f
    test dword ptr [rcx + SG_FLAGS], SGF_DAMAGED  # (one whose records are all lost
    jnz 2f                                # is still there, and still to report)
    cmp dword ptr [rcx + SG_TOTAL], 0
    je 1f
2:  mov rax, qword ptr [rcx + SG_SEAL_END]
1:  pop rcx
    ret

# .Lsw_flush: writes seal_buf's r13 bytes to fd r12d. Returns rax = 0 or
# -errno. Clobbers rcx, rdx, rsi, rdi, r8, r11.
.Lsw_flush:
    mov edi, r12d
    lea rsi, [rip + seal_buf]
    mov rdx, r13
    xor r13d, r13d
    jmp write_all

# seals_open: (compactor) edi = O_CREAT to make the file if there is none,
# else 0. Opens the seals file to append to it: c_seals_fd (the one before
# closed; -1 if there is none or it cannot be opened: seal_append tries again),
# c_seals_len its length in whole entries (a torn last one, left by a
# compactor killed as it wrote it, is written over), c_seals_gone 0.
# Clobbers the caller-saved registers.
.globl seals_open
seals_open:
    push rdi
    mov edi, dword ptr [rip + c_seals_fd]
    test edi, edi
    js 1f
    mov eax, SYS_close
    syscall
1:  pop rdx
    mov dword ptr [rip + c_seals_fd], -1
    mov qword ptr [rip + c_seals_gone], 0
    cmp dword ptr [rip + seals_mine], 0   # (the master keeps none)
    je 3f
    or edx, O_WRONLY | O_CLOEXEC | O_NOFOLLOW
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rip + seals_name]
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js 3f
    mov dword ptr [rip + c_seals_fd], eax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js 2f
    mov rax, qword ptr [rip + w_stat + ST_SIZE]
    xor edx, edx
    mov ecx, SE_SIZE
    div rcx
    imul rax, rax, SE_SIZE
    mov qword ptr [rip + c_seals_len], rax
    ret
2:  mov edi, dword ptr [rip + c_seals_fd]
    mov eax, SYS_close
    syscall
    mov dword ptr [rip + c_seals_fd], -1
3:  ret

# seal_entry: rdi = where, rsi = end, rdx = segment id. Writes the entry
# there, its CRC last. Clobbers rax, rcx, rdx, rsi.
seal_entry:
    mov dword ptr [rdi + SE_MAGIC], SEAL_MAGIC_V1
    mov qword ptr [rdi + SE_ID], rdx
    mov qword ptr [rdi + SE_END], rsi
    push rdi
    lea rsi, [rdi + 8]
    xor edi, edi
    mov edx, SE_SIZE - 8
    call crc32c
    pop rdi
    mov dword ptr [rdi + SE_CRC], eax
    ret

# seal_append: (compactor) rdi = id of a segment now sealed, rsi = where its
# last record ends (hint_write: flushed, and nothing a crash leaves found in
# it). Appends its entry to the seals file; a failed write is cut off again
# (the segment then just has no seal, as before seals). Sets SG_SEAL_END, so
# the compactor's scans of it are strict at once. Clobbers the caller-saved
# registers.
.globl seal_append
seal_append:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    call seg_entry
    mov qword ptr [rax + SG_SEAL_END], r12
    cmp dword ptr [rip + c_seals_fd], 0   # the first seal makes the file
    jge 2f
    mov edi, O_CREAT
    call seals_open
    cmp dword ptr [rip + c_seals_fd], 0
    jl 9f
2:
    lea rdi, [rip + seal_buf]
    mov rsi, r12
    mov rdx, rbx
    call seal_entry
    mov edi, dword ptr [rip + c_seals_fd]
    lea rsi, [rip + seal_buf]
    mov edx, SE_SIZE
    mov rcx, qword ptr [rip + c_seals_len]
    call pwrite_all
    test rax, rax
    js 1f
    add qword ptr [rip + c_seals_len], SE_SIZE
    jmp 9f
1:  mov edi, dword ptr [rip + c_seals_fd]  # what a failed write left, off again
    mov rsi, qword ptr [rip + c_seals_len]
    mov eax, SYS_ftruncate
    syscall
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# seal_gone: (compactor) rdi = id of a segment just removed. Counts its entry,
# if it had one, as left behind in the file, and rewrites the file once
# SEALS_SLACK of them are. Clobbers the caller-saved registers.
.globl seal_gone
seal_gone:
    sub rsp, 8
    call seg_entry
    cmp qword ptr [rax + SG_SEAL_END], 0
    je 1f
    inc qword ptr [rip + c_seals_gone]
    cmp qword ptr [rip + c_seals_gone], SEALS_SLACK
    jb 1f
    call seals_rewrite                    # (a failure leaves no file: no seals
1:  add rsp, 8                            # until the next start)
    ret

.section .rodata
.globl seals_name
seals_name: .asciz ".asmkv-seals"
seals_tmp:  .asciz ".tmp-seals"
m_seals_read: .ascii "cannot read the segments' seals (segments without hints are read as if a crash may have cut them)"
.equ m_seals_read_len, . - m_seals_read

.data
.p2align 2
c_seals_fd: .long -1                     # (compactor) the seals file, to append to

.bss
.p2align 3
.globl seals_mine
seal_buf:     .space SEAL_BUF            # entries on their way to the file
c_seals_len:  .space 8                   # (compactor) its length, in whole entries
c_seals_gone: .space 8                   #   entries in it of segments removed since
seals_mine:   .space 4                   # 1 in the compactor: it appends to the file
.text
