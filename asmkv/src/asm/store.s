# store.s - the store's named functions, what the HTTP side calls:
#   key_state     what a key holds now: a value, an expired one, none
#   store_get     a key's value, checked, and where its bytes are
#   store_put     a put of known length: its record begun (or written whole)
#   store_spool   a put of unknown length: its value spooled first
#   store_append  value bytes, as they arrive
#   store_commit  the value is complete: seal and commit its record
#   store_delete  a delete: a delete record, committed like a put
#   store_abort   the write failed or was given up: it never counts
#   write_conds   (cond.s) a write's preconditions, before its body is read
# A write is known to them by its write handle (WH_*, defs.s), never by the
# connection that asked for it; what they return is an outcome (R_201,
# R_204, R_404, R_412, COMMIT_WRITTEN while a group commit has it, or
# -errno), which the HTTP side (upload.s, get.s) turns into an answer.
# Behind them: records in segments (segment.s), the shared index (index.s),
# group commits (commit.s). A value of known length streams straight into its
# record; one whose length is unknown until its end (a chunked body) is
# spooled to a temporary file ".tmp-PID-SEQ" first (no key's name starts
# with ".").
#
# A write:
#   1. reserves its record in the worker's active segment and writes the
#      header and key (store_put);
#   2. streams the value after them (store_append: pwrite at WH_WOFF, CRC
#      kept in WH_CRC) - a small value already at hand skips this: the whole
#      record is written by one pwrite in step 3;
#   3. takes a sequence number and writes the footer, sealing the record
#      (store_commit);
#   4. with --sync always waits for the worker's next group commit: one
#      fdatasync of the segment for the whole group (commit.s);
#   5. is published in the shared index (store_publish) and answered.
# A record is visible only once durable, and acknowledged only once visible.
# A create-only write (If-None-Match: *) claims its key in step 3, before its
# footer exists, so a write that loses never leaves a valid record behind.
.text

# dir_walk: rdi = a function, rsi = a value for it. Calls the function for
# each entry of the data directory, with rdi = the entry's name (NUL-
# terminated) and rsi = the value; it returns rax >= 0 to go on, or a negative
# rax to stop the walk. Returns rax = 0, the function's negative value, or
# -errno of reading the directory. Clobbers the caller-saved registers.
.globl dir_walk
dir_walk:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 4096
    mov r12, rdi
    mov r13, rsi
    mov edi, dword ptr [rip + dir_fd]
    xor esi, esi
    mov edx, SEEK_SET
    mov eax, SYS_lseek                    # the descriptor is shared: rewind it
    syscall
    test rax, rax
    js .Ldw_out
.Ldw_batch:
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, 4096
    mov eax, SYS_getdents64
    syscall
    cmp rax, -EINTR
    je .Ldw_batch
    test rax, rax
    jle .Ldw_out                          # 0: end of directory; <0: error
    mov r14, rax                          # bytes in this batch
    xor ebx, ebx                          # offset of the entry
.Ldw_entry:
    cmp rbx, r14
    jae .Ldw_batch
    lea rdi, [rsp + rbx + DIRENT_NAME]
    movzx eax, word ptr [rsp + rbx + DIRENT_RECLEN]
    add rbx, rax
    mov rsi, r13
    call r12
    test rax, rax
    jns .Ldw_entry
.Ldw_out:
    add rsp, 4096
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# remove_temps: rdi = name prefix, rsi = prefix length.
# Unlinks every entry of the data directory whose name starts with the prefix
# (temporary files left by a crash). Returns rax = 0 or -errno.
# Clobbers the caller-saved registers.
.globl remove_temps
remove_temps:
    sub rsp, 24
    mov qword ptr [rsp], rdi
    mov qword ptr [rsp + 8], rsi
    lea rdi, [rip + remove_temp]
    mov rsi, rsp
    call dir_walk
    add rsp, 24
    ret

# remove_temp: (dir_walk) rdi = an entry's name, rsi = [prefix, its length].
# Unlinks the entry if its name starts with the prefix. Returns rax = 0 or
# -errno. Clobbers the caller-saved registers.
remove_temp:
    mov r8, qword ptr [rsi]
    mov r9, qword ptr [rsi + 8]
    xor ecx, ecx
1:  cmp rcx, r9
    jae 2f
    movzx eax, byte ptr [rdi + rcx]
    cmp al, byte ptr [r8 + rcx]
    jne 3f
    inc rcx
    jmp 1b
2:  mov rsi, rdi
    mov edi, dword ptr [rip + dir_fd]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    cmp rax, -ENOENT                      # another process beat us to it
    jne 4f
3:  xor eax, eax
4:  ret

# io_kind: rdi = -errno of a failed storage call.
# Returns eax = R_507 when the disk or quota is full (and notes it in
# w_disk_full), R_503 when the process or the system is out of descriptors or
# memory (it passes), else R_500; counts it for the error log.
# Clobbers nothing else.
.globl io_kind
io_kind:
    push rdi
    push rsi
    mov esi, edi
    neg esi                               # the errno, for the error log
    mov eax, R_507
    mov edi, LOG_507
    cmp esi, ENOSPC
    je 2f
    cmp esi, EDQUOT
    je 2f
    mov eax, R_503
    mov edi, LOG_503
    cmp esi, EMFILE
    je 1f
    cmp esi, ENFILE
    je 1f
    cmp esi, ENOMEM
    je 1f
    mov eax, R_500
    mov edi, LOG_500
    jmp 1f
2:  mov byte ptr [rip + w_disk_full], 1   # seal_idle: let compaction make room now
1:  call log_count
    pop rsi
    pop rdi
    ret

# sync_dir: with --sync always, fsyncs the data directory so that renames and
# unlinks done so far are durable. Returns rax = 0 or -errno. Clobbers rcx, rdi, r11.
.globl sync_dir
sync_dir:
    xor eax, eax
    cmp dword ptr [rip + cfg_sync], 0
    je 1f
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
1:  ret

# key_state: rdi = an encoded key, rsi = its length. Returns rax = the
# sequence number of the key's newest write (0 if it was never written),
# edx = KS_NONE, KS_VALUE or KS_EXPIRED, and rcx = the LOC of its value
# (KS_VALUE, KS_EXPIRED); or rax = -errno if its record cannot be read. A
# claim (flight.s) is not a write: the key holds what it held.
# Clobbers the caller-saved registers and w_rec.
.globl key_state
key_state:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov r12, rdi
    mov r13, rsi
    mov r14d, COND_TRIES
1:  mov rdi, r12
    mov rsi, r13
    call index_lookup
    xor ebx, ebx                          # the sequence number
    xor r15d, r15d                        # the LOC
    test rax, rax
    jz .Lks_none
    mov rdi, rax
    call index_state
    mov rbx, rax
    btr rdx, LOC_CLAIM_BIT
    test rdx, rdx
    jz .Lks_none
    bt rdx, LOC_TOMB_BIT
    jc .Lks_none
    mov r15, rdx
    mov rdi, rdx
    call loc_expired
    test eax, eax
    jz .Lks_value
    jns .Lks_expired
    dec r14d                              # compacted since the key was read:
    jnz 1b                                # look again
    mov rax, -EIO
    jmp .Lks_out
.Lks_none:
    xor edx, edx
    jmp .Lks_seq
.Lks_value:
    mov edx, KS_VALUE
    jmp .Lks_seq
.Lks_expired:
    mov edx, KS_EXPIRED
.Lks_seq:
    mov rax, rbx
    mov rcx, r15
.Lks_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# store_get: rdi = an encoded key, rsi = its length, rdx = room for what is
# found (FV_SIZE bytes). Finds the key's newest value and checks its record's
# header and key against their CRCs, its metadata block against its own, and
# for a record that fits in REC_SMALL its value and footer too (then the value
# is in memory, FV_MEM).
# Returns eax = 0 (found: FV_* filled), R_404 (no value, or it has expired),
# R_500 (the record does not check out: counted in the error log),
# R_500_DAMAGED (its record is known damaged), or the kind of a failed read
# (io_kind). Clobbers the caller-saved registers and w_rec.
.globl store_get
store_get:
    push rbx
    push r12
    push r13
    push r14
    push r15
    push rbp
    sub rsp, 24                           # [rsp] key, [rsp + 8] its length
    mov qword ptr [rsp], rdi
    mov qword ptr [rsp + 8], rsi
    mov rbx, rdx                          # FV_*
    mov dword ptr [rsp + 16], 4           # tries: see below
.Lgt_lookup:
    mov rdi, qword ptr [rsp]
    mov rsi, qword ptr [rsp + 8]
    call index_lookup
    test rax, rax
    jz .Lgt_absent
    mov rdi, rax
    call index_state
    mov qword ptr [rbx + FV_SEQ], rax
    btr rdx, LOC_CLAIM_BIT                # (a claim is not a write)
    test rdx, rdx
    jz .Lgt_absent
    bt rdx, LOC_TOMB_BIT
    jc .Lgt_absent
    mov r12, rdx
    mov rdi, r12
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    jz .Lgt_damaged                       # LOC_DAMAGED: no older value instead
    call seg_fd
    test rax, rax
    jns 1f
    cmp rax, -ENOENT                      # compacted away since we looked: the
    jne .Lgt_io                           # index has the record's new place
    dec dword ptr [rsp + 16]
    jnz .Lgt_lookup
    jmp .Lgt_io
1:
    mov r13d, eax
    mov dword ptr [rbx + FV_FD], eax
    mov r14, LOC_OFF_MASK
    and r14, r12                          # the record's offset
    mov edi, r13d
    lea rsi, [rip + w_rec]
    mov edx, REC_SMALL
    mov rcx, r14
    call pread_full
    test rax, rax
    js .Lgt_io
    mov r15, rax
    lea r12, [rip + w_rec]
    mov rdi, r12                          # magic (v1 or v2), lengths, header CRC
    mov rsi, r15
    call rec_header_ok
    test eax, eax
    jz .Lgt_corrupt
    mov eax, dword ptr [r12 + REC_KLEN]
    cmp rax, qword ptr [rsp + 8]
    jne .Lgt_corrupt
    mov ecx, dword ptr [r12 + REC_KLEN]   # the record is the key's own
    lea rsi, [r12 + REC_HDR]
    mov rdi, qword ptr [rsp]
    repe cmpsb
    jne .Lgt_corrupt
    mov rax, qword ptr [r12 + REC_TIME]
    mov qword ptr [rbx + FV_TIME], rax
    mov rax, MAX_BODY_LIMIT               # no asmkv writes a longer value: a header
    cmp qword ptr [r12 + REC_VLEN], rax   # that says so is not believed, CRC or not
    ja .Lgt_corrupt                       # (its length would wrap rec_len's sum)
    xor ebp, ebp                          # the bytes before the value: prefix, block
    mov dword ptr [rbx + FV_META], 0
    cmp dword ptr [r12 + REC_MAGIC], REC_MAGIC_V2
    jne 3f
    mov eax, dword ptr [r12 + REC_KLEN]   # its metadata, checked before it is
    lea rdx, [rax + REC_HDR + MP_SIZE]    # sent (read on if it did not all come)
    cmp r15, rdx
    jb 2f
    mov ecx, dword ptr [r12 + rax + REC_HDR + MP_LEN]
    add rdx, rcx
    cmp r15, rdx
    jae 2f
    cmp rdx, REC_BUF
    ja 2f                                 # (too long for any block: not believed)
    mov edi, r13d
    lea rsi, [rip + w_rec]
    mov rcx, r14
    call pread_full
    test rax, rax
    js .Lgt_io
    mov r15, rax
2:  mov eax, dword ptr [r12 + REC_KLEN]
    lea rdi, [r12 + rax + REC_HDR]
    mov rsi, r15
    sub rsi, rax
    sub rsi, REC_HDR
    mov rdx, qword ptr [r12 + REC_VLEN]
    call meta_block_ok
    test rax, rax
    jz .Lgt_corrupt
    mov rbp, rax
    lea rcx, [rax - MP_SIZE]
    mov dword ptr [rbx + FV_META], ecx
    mov eax, dword ptr [r12 + REC_KLEN]
    lea rax, [r12 + rax + REC_HDR + MP_SIZE]
    mov qword ptr [rbx + FV_BLOCK], rax
    mov eax, dword ptr [r12 + REC_KLEN]   # expired: as if never written
    mov rax, qword ptr [r12 + rax + REC_HDR + MP_DELETE_AT]
    call expired_at
    test eax, eax
    jnz .Lgt_absent
3:  mov eax, dword ptr [r12 + REC_KLEN]
    lea rcx, [r14 + rax + REC_HDR]        # the value's first byte in the file
    add rcx, rbp
    mov qword ptr [rbx + FV_OFF], rcx
    mov rcx, qword ptr [r12 + REC_VLEN]
    sub rcx, rbp
    mov qword ptr [rbx + FV_LEN], rcx
    mov qword ptr [rbx + FV_MEM], 0       # the value in memory, if it all came
    mov edi, dword ptr [r12 + REC_KLEN]
    mov rsi, qword ptr [r12 + REC_VLEN]
    call rec_len
    cmp rax, r15
    ja .Lgt_found
    lea r15, [r12 + rax - FT_SIZE]        # the footer
    mov eax, dword ptr [r12 + REC_KLEN]
    lea rsi, [r12 + rax + REC_HDR]
    xor edi, edi
    mov rdx, qword ptr [r12 + REC_VLEN]
    call crc32c
    mov edi, eax
    mov rsi, r15
    mov edx, 8
    call crc32c
    mov edi, eax
    lea rsi, [r12 + REC_HCRC]
    mov edx, 4
    call crc32c
    cmp eax, dword ptr [r15 + FT_CRC]
    jne .Lgt_corrupt
    cmp dword ptr [r15 + FT_MAGIC], FT_MAGIC_V1
    jne .Lgt_corrupt
    mov rax, qword ptr [r15 + FT_SEQ]     # the index and the record agree
    cmp rax, qword ptr [rbx + FV_SEQ]
    jne .Lgt_corrupt
    mov eax, dword ptr [r12 + REC_KLEN]   # the value in memory (after its
    lea rax, [r12 + rax + REC_HDR]        # metadata, if any)
    add rax, rbp
    mov qword ptr [rbx + FV_MEM], rax
.Lgt_found:
    xor eax, eax
.Lgt_out:
    add rsp, 24
    pop rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lgt_absent:
    mov eax, R_404
    jmp .Lgt_out
.Lgt_corrupt:
    mov edi, LOG_CORRUPT
    mov esi, EIO
    call log_count
    mov eax, R_500
    jmp .Lgt_out
.Lgt_damaged:
    mov eax, R_500_DAMAGED
    jmp .Lgt_out
.Lgt_io:
    mov rdi, rax
    call io_kind
    jmp .Lgt_out

# rec_time: rdi = a LOC naming a value. Reads its record's header and key and
# checks them. Returns rax = the record's time (when its write began), or
# -errno (-EIO if the record does not check out), and rdx = the value's length
# (a v2 record's value region less its metadata). Clobbers the caller-saved
# registers and w_rec.
.globl rec_time
rec_time:
    push rbx
    mov rbx, rdi
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    mov rax, -EIO                         # LOC_DAMAGED: it has no time to give
    jz 9f
    call seg_fd
    test rax, rax
    js 9f
    mov edi, eax
    lea rsi, [rip + w_rec]
    mov edx, REC_HDR + NAME_MAX + MP_SIZE
    mov rcx, LOC_OFF_MASK
    and rcx, rbx
    call pread_full
    test rax, rax
    js 9f
    push rax
    push rax
    lea rdi, [rip + w_rec]
    mov rsi, rax
    call rec_header_ok
    pop rcx
    pop rcx
    test eax, eax
    jz 8f
    mov rdx, qword ptr [rip + w_rec + REC_VLEN]
    cmp dword ptr [rip + w_rec + REC_MAGIC], REC_MAGIC_V2
    jne 7f
    mov eax, dword ptr [rip + w_rec + REC_KLEN]  # less its metadata (MP_LEN is
    lea rsi, [rax + REC_HDR + MP_SIZE]    # not under the header's CRC: bounded)
    cmp rcx, rsi
    jb 7f
    lea rsi, [rip + w_rec + REC_HDR]
    mov eax, dword ptr [rsi + rax + MP_LEN]
    add rax, MP_SIZE
    cmp rax, rdx
    ja 7f
    sub rdx, rax
7:  mov rax, qword ptr [rip + w_rec + REC_TIME]
    jmp 9f
8:  mov rax, -EIO
9:  pop rbx
    ret

# reserve_record: rdi = write handle (key, metadata, expiry), rsi = the value
# region's length, edx = REC_PUT or REC_DEL. Reserves the record in the
# worker's segment (WH_LOC) and builds its header and key (and a put's
# metadata) in w_rec (WH_HCRC, WH_TIME). A put that expires marks its segment
# before its record can count (seg_expiry). Returns rax = the record's
# length, or -errno (nothing reserved), and edx = the record's segment.
# Clobbers the caller-saved registers.
reserve_record:
    push rbx
    push r12
    push r13
    push r14
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    mov r13d, edx
    mov rdi, qword ptr [rbx + WH_KLEN]
    call rec_len
    mov r14, rax
    mov rdi, rax
    call seg_reserve
    test rax, rax
    js 1f
    mov qword ptr [rbx + WH_LOC], rax
    mov rdi, rbx
    mov rsi, r12
    mov edx, r13d
    call rec_header
    mov dword ptr [rbx + WH_HCRC], eax
    mov rax, qword ptr [rip + w_rec + REC_TIME]
    mov qword ptr [rbx + WH_TIME], rax    # preconditions are decided: the write's own now
    cmp r13d, REC_PUT
    jne 2f
    mov rsi, qword ptr [rbx + WH_DELETE_AT]
    test rsi, rsi
    jz 2f
    mov rdi, qword ptr [rbx + WH_LOC]
    shr rdi, LOC_SEG_SHIFT
    call seg_expiry
2:  mov rax, r14
    mov edx, dword ptr [rip + w_seg_fd]
1:  add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# meta_crc: rdi = write handle. Returns eax = the CRC32C of its metadata, the
# start of its value region's (0 if it has none). Clobbers the caller-saved
# registers.
meta_crc:
    xor eax, eax
    mov edx, dword ptr [rdi + WH_META_LEN]
    test edx, edx
    jz 1f
    mov rsi, qword ptr [rdi + WH_META]
    xor edi, edi
    jmp crc32c
1:  ret

# store_put: rdi = write handle of a put (key, WH_VLEN within --max-body,
# metadata, expiry, WH_COND, WH_FLIGHT, WH_DONE), rsi = the first bytes of
# its value at hand, rdx = their count (more than the value is fine).
# Reserves the record and builds its header, key and metadata. If the whole
# value is at hand and the record is small, the value is copied after them
# (WF_WHOLE: it is written with the footer in one call) and rax = 1: the
# caller has used WH_VLEN bytes of what it had, and store_commit comes next,
# before anything else uses w_rec.
# Else the header is written and rax = 0: the value follows through
# store_append, then store_commit. Returns rax = 1, 0, or -errno (nothing
# reserved, or given back). Clobbers the caller-saved registers.
.globl store_put
store_put:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13, rdx
    mov rdi, rbx
    mov esi, dword ptr [rbx + WH_META_LEN] # (its region: the metadata first)
    add rsi, qword ptr [rbx + WH_VLEN]
    mov edx, REC_PUT
    call reserve_record                   # (w_rec: header, key, metadata)
    test rax, rax
    js .Lsp_out
    mov r14, rax
    mov dword ptr [rbx + WH_FD], edx
    or dword ptr [rbx + WH_FLAGS], WF_RECORD
    mov rdi, rbx                          # the value region's CRC, from its
    call meta_crc                         # metadata on
    mov dword ptr [rbx + WH_CRC], eax
    mov qword ptr [rbx + WH_META], 0      # in w_rec now; w_meta is the next head's
    mov r15, qword ptr [rbx + WH_KLEN]
    add r15, REC_HDR                      # header and key
    mov eax, dword ptr [rbx + WH_META_LEN] #  and metadata
    add r15, rax
    cmp r14, REC_BUF
    ja .Lsp_stream
    cmp r13, qword ptr [rbx + WH_VLEN]
    jb .Lsp_stream
    lea rdi, [rip + w_rec]                # the whole value is here: one record,
    add rdi, r15                          # one write
    mov rsi, r12
    mov rdx, qword ptr [rbx + WH_VLEN]
    call copy
    mov edi, dword ptr [rbx + WH_CRC]
    lea rsi, [rip + w_rec]
    add rsi, r15
    mov rdx, qword ptr [rbx + WH_VLEN]
    call crc32c
    mov dword ptr [rbx + WH_CRC], eax
    or dword ptr [rbx + WH_FLAGS], WF_WHOLE
    mov eax, 1
    jmp .Lsp_out
.Lsp_stream:
    mov edi, dword ptr [rbx + WH_FD]
    lea rsi, [rip + w_rec]
    mov rdx, r15
    mov rcx, LOC_OFF_MASK
    and rcx, qword ptr [rbx + WH_LOC]
    add r15, rcx
    call pwrite_all
    test rax, rax
    js .Lsp_release
    mov qword ptr [rbx + WH_WOFF], r15
    xor eax, eax
.Lsp_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lsp_release:
    mov r12, rax
    mov rdi, qword ptr [rbx + WH_LOC]
    mov rsi, r14
    mov edx, dword ptr [rbx + WH_FD]
    call seg_release
    mov dword ptr [rbx + WH_FD], -1
    and dword ptr [rbx + WH_FLAGS], ~WF_STORE
    mov rax, r12
    jmp .Lsp_out

# store_spool: rdi = write handle of a put whose value's length is unknown
# (key, metadata, expiry, WH_COND, WH_FLIGHT, WH_DONE). Makes its temporary
# file (WH_SPOOL: only this write removes it) and writes its metadata there:
# the spool holds the value region, copied into a record by store_commit.
# Returns rax = 0 or -errno (nothing left behind). Clobbers the caller-saved
# registers.
.globl store_spool
store_spool:
    push rbx
    push r12
    sub rsp, SPOOL_NAME_CAP + 8
    mov rbx, rdi
    inc qword ptr [rip + w_seq]           # numbers start at 1: WH_SPOOL 0 is "none"
    mov r12, qword ptr [rip + w_seq]
    mov rdi, rsp
    mov rsi, r12
    call spool_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC  # readable: copied into a record
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lsn_out
    mov qword ptr [rbx + WH_SPOOL], r12   # made by this write: only it removes it
    mov dword ptr [rbx + WH_FD], eax
    mov dword ptr [rbx + WH_CRC], 0
    mov edx, dword ptr [rbx + WH_META_LEN]  # its metadata first
    test edx, edx
    jz 1f
    mov edi, eax
    mov rsi, qword ptr [rbx + WH_META]
    call write_all
    test rax, rax
    js .Lsn_failed
    mov rdi, rbx
    call meta_crc
    mov dword ptr [rbx + WH_CRC], eax
1:  mov qword ptr [rbx + WH_META], 0      # in the spool now; w_meta is the next
    xor eax, eax                          # head's once this one's step ends
.Lsn_out:
    add rsp, SPOOL_NAME_CAP + 8
    pop r12
    pop rbx
    ret
.Lsn_failed:
    mov r12, rax
    mov rdi, rbx
    call store_abort                      # (closes and removes the spool)
    mov rax, r12
    jmp .Lsn_out

# store_append: rdi = write handle whose value is being stored (store_put's
# rax = 0, or store_spool), rsi = value bytes, rdx = their count (no more
# than the value has left). Writes them after the bytes before them (the
# record at WH_WOFF, or the spool's end) and keeps their CRC (WH_CRC).
# Returns rax = 0 or -errno (then the write is to be given up: store_abort).
# Clobbers rcx, rdx, rsi, rdi, r8-r11.
.globl store_append
store_append:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12, rdx
    mov r13, rsi
    mov edi, dword ptr [rbx + WH_CRC]
    call crc32c
    mov dword ptr [rbx + WH_CRC], eax
    mov edi, dword ptr [rbx + WH_FD]
    mov rsi, r13
    mov rdx, r12
    test dword ptr [rbx + WH_FLAGS], WF_RECORD
    jz 1f
    mov rcx, qword ptr [rbx + WH_WOFF]
    call pwrite_all
    test rax, rax
    js 9f
    add qword ptr [rbx + WH_WOFF], r12
    xor eax, eax
    jmp 9f
1:  call write_all
    test rax, rax
    js 9f
    xor eax, eax
9:  pop r13
    pop r12
    pop rbx
    ret

# wh_vlen: rdi = write handle with a record. Returns rax = its value region's
# length: a delete has none, a put's is its metadata and WH_VLEN.
# Clobbers nothing else.
wh_vlen:
    xor eax, eax
    test dword ptr [rdi + WH_FLAGS], WF_DELETE
    jnz 1f
    mov eax, dword ptr [rdi + WH_META_LEN]
    add rax, qword ptr [rdi + WH_VLEN]
1:  ret

# wh_rec_len: rdi = write handle with a record. Returns rax = the record's
# length. Clobbers rdi, rsi.
wh_rec_len:
    call wh_vlen
    mov rsi, rax
    mov rdi, qword ptr [rdi + WH_KLEN]
    jmp rec_len

# store_commit: rdi = write handle whose value is complete (store_put's
# rax = 1, with w_rec as store_put left it; or after the store_append of its last byte; a spooled one with
# WH_VLEN set now). A spooled value is first copied into a record
# (copy_file_range: in the kernel, constant memory). Then the record is
# sealed: it takes its sequence number, a create-only or conditional write
# claims its key (cond_claim), the footer is written, and the write commits.
# Returns rax = R_201 (a new key), R_204 (a value replaced), R_404 (a delete
# of a key without a value), R_412 (its condition failed: it never counts),
# COMMIT_WRITTEN (--sync always: it waits for the group commit, which calls
# WH_DONE with one of those outcomes or -errno), or -errno (it never counts).
# Whatever the outcome, the handle holds no record or spool after it, but
# for COMMIT_WRITTEN. Clobbers the caller-saved registers.
.globl store_commit
store_commit:
    test dword ptr [rdi + WH_FLAGS], WF_RECORD
    jnz seal_record
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                           # the two offsets copy_file_range moves on
    mov rbx, rdi
    mov eax, dword ptr [rbx + WH_META_LEN] # the spool: metadata, then the value
    mov r12, qword ptr [rbx + WH_VLEN]
    add r12, rax
    mov rdi, rbx
    mov rsi, r12
    mov edx, REC_PUT
    call reserve_record                   # (WH_CRC is the spool's already)
    test rax, rax
    js .Lsc_failed
    mov r13, rax
    mov r15d, edx
    mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + WH_LOC]
    mov edi, r15d
    lea rsi, [rip + w_rec]
    mov rdx, qword ptr [rbx + WH_KLEN]
    add rdx, REC_HDR
    mov rcx, r14
    call pwrite_all
    test rax, rax
    js .Lsc_release
    mov qword ptr [rsp], 0
    mov rax, qword ptr [rbx + WH_KLEN]
    lea rax, [r14 + rax + REC_HDR]
    mov qword ptr [rsp + 8], rax
1:  test r12, r12
    jz 2f
    mov edi, dword ptr [rbx + WH_FD]
    mov rsi, rsp
    mov edx, r15d
    lea r10, [rsp + 8]
    mov r8, r12
    xor r9d, r9d
    mov eax, SYS_copy_file_range
    syscall
    cmp rax, -EINTR
    je 1b
    test rax, rax
    js .Lsc_release
    jz .Lsc_short
    sub r12, rax
    jmp 1b
2:  mov edi, dword ptr [rbx + WH_FD]      # the spool is done with
    mov eax, SYS_close
    syscall
    mov rdi, rbx                          # a crash leaves it to startup's cleanup
    call spool_unlink
    mov dword ptr [rbx + WH_FD], r15d
    or dword ptr [rbx + WH_FLAGS], WF_RECORD
    mov rdi, rbx
    call seal_record
.Lsc_out:
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lsc_short:
    mov rax, -EIO                         # the spool ended early
.Lsc_release:
    push rax
    push rax
    mov rdi, qword ptr [rbx + WH_LOC]
    mov rsi, r13
    mov edx, r15d
    call seg_release
    pop rax
    pop rax
.Lsc_failed:
    mov r12, rax
    mov rdi, rbx
    call store_abort                      # (the spool goes)
    mov rax, r12
    jmp .Lsc_out

# seal_record: rdi = write handle whose record is written but for its footer
# (WF_WHOLE: the whole record is in w_rec, written here in one call).
# Store_commit's second half: returns as it does. Clobbers the caller-saved
# registers.
seal_record:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov rdi, qword ptr [rbx + WH_KEY]
    mov rsi, qword ptr [rbx + WH_KLEN]
    call index_node                       # counted before its footer can make it
    test rax, rax                         # valid (index_rec_add says why)
    js .Lsr_release
    mov rdi, rax
    call index_node_id
    mov dword ptr [rbx + WH_NODE], eax
    test dword ptr [rbx + WH_COND], WC_SEQ | WC_ABSENT | WC_PRESENT
    jnz 1f
    mov rdi, rbx                          # in flight before it is numbered (flight.s)
    mov rsi, FL_UNKNOWN
    call flight_enter
    call next_seq
    mov qword ptr [rbx + WH_SEQ], rax
    mov rdi, rbx
    mov rsi, rax
    call flight_seq
    jmp 2f
1:  call next_seq                         # numbered, then in flight, then the
    mov qword ptr [rbx + WH_SEQ], rax     # claim: its footer comes only after it
    mov rdi, rbx
    mov rsi, rax
    call flight_enter
    mov rdi, rbx
    call cond_claim
    test eax, eax
    jnz .Lsr_taken
2:  mov rdi, rbx
    call wh_rec_len
    mov r13, rax
    mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + WH_LOC]
    test dword ptr [rbx + WH_FLAGS], WF_WHOLE
    jz 3f
    mov rdi, rbx                          # zero the padding: from the value's end
    call wh_vlen                          # (the footer covers what spills over)
    add rax, qword ptr [rbx + WH_KLEN]
    lea rcx, [rip + w_rec]
    mov qword ptr [rcx + rax + REC_HDR], 0
    lea rdi, [rcx + r13 - FT_SIZE]
    mov esi, dword ptr [rbx + WH_CRC]
    mov edx, dword ptr [rbx + WH_HCRC]
    mov rcx, qword ptr [rbx + WH_SEQ]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov rdx, r13
    mov rcx, r14
    jmp 4f
3:  lea rdi, [rip + w_rec]                # the footer alone, at the record's end
    mov esi, dword ptr [rbx + WH_CRC]
    mov edx, dword ptr [rbx + WH_HCRC]
    mov rcx, qword ptr [rbx + WH_SEQ]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov edx, FT_SIZE
    lea rcx, [r14 + r13 - FT_SIZE]
4:  mov edi, dword ptr [rbx + WH_FD]
    call pwrite_all
    test rax, rax
    js .Lsr_failed
    mov rdi, qword ptr [rbx + WH_LOC]
    call loc_entry
    lock inc dword ptr [rax + SG_TOTAL]
    lock add qword ptr [rax + SG_BYTES], r13
    mov rdi, rbx
    call gone_check
    mov rdi, rbx
    call commit_record
.Lsr_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lsr_failed:
    mov r12, rax
    call index_taint                      # (its count stays: the footer may be there)
    mov rdi, rbx
    call store_abort
    mov rax, r12
    jmp .Lsr_out
.Lsr_release:
    mov r12, rax
    mov rdi, rbx
    call store_abort
    mov rax, r12
    jmp .Lsr_out
.Lsr_taken:
    mov r12d, dword ptr [rbx + WH_NODE]
    mov rdi, rbx                          # out of flight first: the node may die
    call store_abort
    mov edi, r12d                         # its footer was never written: it does
    call index_node_at                    # not count
    mov rdi, rax
    call index_rec_drop
    mov eax, R_412
    jmp .Lsr_out

# gone_check: rdi = write handle whose record is written (w_rec is free
# again: loc_expired may read into it). An unconditional put of a key whose
# value has expired creates the key as far as the client can tell (201, as if
# it had never been written): WH_GONE = that value's sequence number, which
# store_publish looks for in what it replaces (compaction may have moved it
# meanwhile, under the same number); else 0. The key's node is at hand
# (WH_NODE): no second lookup. A conditional write knows already
# (WC_EXPIRED); a delete answers as a delete. Clobbers the caller-saved
# registers.
gone_check:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov qword ptr [rbx + WH_GONE], 0
    test dword ptr [rbx + WH_COND], WC_SEQ | WC_ABSENT | WC_PRESENT
    jnz 1f
    test dword ptr [rbx + WH_FLAGS], WF_DELETE
    jnz 1f
    mov edi, dword ptr [rbx + WH_NODE]
    call index_node_at
    mov rdi, rax
    call index_state
    mov r12, rax                          # the key's newest write, if a value
    btr rdx, LOC_CLAIM_BIT
    test rdx, rdx
    jz 1f
    bt rdx, LOC_TOMB_BIT
    jc 1f
    mov rdi, rdx
    call loc_expired                      # (-1, its segment gone: moved, so not
    cmp eax, 1                            # known expired; it answers 204)
    jne 1f
    mov qword ptr [rbx + WH_GONE], r12
1:  add rsp, 8
    pop r12
    pop rbx
    ret

# commit_record: rdi = write handle whose record is sealed. --sync always
# (and not WF_NOW): joins the next group commit (commit.s), which publishes
# it once durable: rax = COMMIT_WRITTEN. Else it is published now: rax = its
# outcome (store_publish). Clobbers the caller-saved registers.
commit_record:
    test dword ptr [rdi + WH_FLAGS], WF_NOW
    jnz store_publish
    cmp dword ptr [rip + cfg_sync], 0
    je store_publish
    jmp commit_enqueue

# store_publish: rdi = write handle whose record is sealed (and durable, with
# --sync always). Makes it the key's newest write in the index. A
# conditional write settles its claim (flight.s). Returns rax = R_201 (new
# key), R_204 (replaced, or a delete of a key that had a value) or R_404 (a
# delete of a key with no value). The write is no longer in flight, and the
# handle no longer holds the record's segment: WH_FD = -1.
# Clobbers the caller-saved registers. Runs in the flusher thread too.
.globl store_publish
store_publish:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov edi, dword ptr [rbx + WH_NODE]    # (seal_record found it)
    call index_node_at
    mov rdi, rax
    call wh_loc_flagged
    mov rdx, rsi
    test dword ptr [rbx + WH_FLAGS], WF_CLAIMED
    jz 3f
    mov rcx, rdx                          # the claim becomes the write
    mov rdx, qword ptr [rbx + WH_SEQ]
    mov rsi, qword ptr [rbx + WH_EXPECT]
    call index_settle
    and dword ptr [rbx + WH_FLAGS], ~WF_CLAIMED
    call wh_loc_flagged
    cmp eax, PUB_REPLACED                 # it replaced no value: a new key (the
    jne 5f                                # LOC it replaced says; an expired value
    mov rcx, rdx                          # was counted, and answers 201 all the
    btr rcx, LOC_CLAIM_BIT                # same: WF_HAD, below)
    test rcx, rcx
    jz 2f
    bt rcx, LOC_TOMB_BIT
    jnc 5f
2:  mov eax, PUB_NEW
5:  call pub_count
    mov eax, R_204                        # replaced, or overwritten after it was
    test dword ptr [rbx + WH_FLAGS], WF_DELETE
    jnz 8f
    test dword ptr [rbx + WH_FLAGS], WF_HAD
    jnz 8f
    mov eax, R_201
    jmp 8f
3:  mov rsi, qword ptr [rbx + WH_SEQ]
    xor ecx, ecx
    call index_publish
    mov r12, rsi                          # (what it replaced, when applied)
    call wh_loc_flagged
    call pub_count
    test dword ptr [rbx + WH_FLAGS], WF_DELETE
    jz 6f
    cmp eax, PUB_NEW
    mov eax, R_404
    je 8f
    mov eax, R_204
    jmp 8f
6:  cmp eax, PUB_REPLACED                 # what it replaced had expired: as new
    jne 4f
    cmp r12, qword ptr [rbx + WH_GONE]
    mov eax, R_201
    je 8f
    mov eax, PUB_REPLACED
4:  cmp eax, PUB_NEW
    mov eax, R_201
    je 8f
    mov eax, R_204
8:  mov dword ptr [rbx + WH_FD], -1
    and dword ptr [rbx + WH_FLAGS], ~(WF_RECORD | WF_WHOLE)
    mov r12, rax
    mov rdi, rbx
    call flight_leave
    mov rdi, qword ptr [rbx + WH_LOC]
    call rec_closed
    mov rax, r12
    add rsp, 8
    pop r12
    pop rbx
    ret

# wh_loc_flagged: rbx = write handle with a record. Returns rsi = its LOC,
# with LOC_TOMB for a delete. Clobbers nothing else.
wh_loc_flagged:
    mov rsi, qword ptr [rbx + WH_LOC]
    test dword ptr [rbx + WH_FLAGS], WF_DELETE
    jz 1f
    bts rsi, LOC_TOMB_BIT
1:  ret

# store_abort: rdi = write handle. Drops its unfinished or failed write, if
# it has one, so the key keeps its old value: its record never counts
# (abort_record), or its spool is closed and removed. A handle with neither
# is left as it is. Clobbers rax, rcx, rdx, rsi, rdi, r11 (keeps r8-r10, as
# its callers in the event loop need).
.globl store_abort
store_abort:
    test dword ptr [rdi + WH_FLAGS], WF_RECORD
    jz 3f
    cmp dword ptr [rdi + WH_FD], 0
    jge abort_record
    ret
3:  push rbx
    mov rbx, rdi
    mov edi, dword ptr [rbx + WH_FD]
    test edi, edi
    js 1f
    mov eax, SYS_close                    # the data is being thrown away anyway
    syscall
    mov dword ptr [rbx + WH_FD], -1
1:  mov rdi, rbx
    call spool_unlink
    pop rbx
    ret

# abort_record: rdi = write handle with an unfinished or failed record
# (WF_RECORD, WH_FD >= 0). Makes sure the record never counts: its footer is
# marked (it may have been written), a create-only claim is given back, and
# its room is reused if nothing came after it. Clobbers rax, rcx, rdx, rsi,
# rdi, r11 (as store_abort).
abort_record:
    push rbx
    push r12
    push r8
    push r9
    push r10
    mov rbx, rdi
    call wh_rec_len
    mov r12, rax
    test dword ptr [rbx + WH_FLAGS], WF_CLAIMED
    jz 1f
    and dword ptr [rbx + WH_FLAGS], ~WF_CLAIMED
    mov edi, dword ptr [rbx + WH_NODE]
    call index_node_at
    mov rdi, rax
    mov rsi, qword ptr [rbx + WH_EXPECT]
    call index_unclaim
1:  mov rdi, rbx                          # (a record never sealed was not in flight:
    call flight_leave                     # its entry is clear already)
    mov rdi, qword ptr [rbx + WH_LOC]     # its footer marked (seg_release): a
    mov rsi, r12                          # footer written before a failed flush
    mov edx, dword ptr [rbx + WH_FD]      # must not count (recovery also checks
    call seg_release                      # the CRC, should the mark not be written)
    mov dword ptr [rbx + WH_FD], -1
    and dword ptr [rbx + WH_FLAGS], ~(WF_RECORD | WF_WHOLE)
    pop r10
    pop r9
    pop r8
    pop r12
    pop rbx
    ret

# store_delete: rdi = write handle of a delete (key, WH_COND: WC_ABSENT for
# one that expects no value, WH_FLIGHT, WH_DONE). R_404 if the key has no
# value (an expired one is none: compaction gives its room back), R_412 if
# it has one and the delete expects none; otherwise writes a delete record
# and commits it like a put. Returns as store_commit. Clobbers the
# caller-saved registers.
.globl store_delete
store_delete:
    push rbx
    mov rbx, rdi
    mov rdi, qword ptr [rbx + WH_KEY]
    mov rsi, qword ptr [rbx + WH_KLEN]
    call key_state
    test rax, rax
    js 9f
    mov eax, R_404
    cmp edx, KS_VALUE
    jne 9f
    mov eax, R_412
    test dword ptr [rbx + WH_COND], WC_ABSENT
    jnz 9f
    or dword ptr [rbx + WH_FLAGS], WF_DELETE
    mov rdi, rbx
    xor esi, esi
    mov edx, REC_DEL
    call reserve_record
    test rax, rax
    js 9f
    mov dword ptr [rbx + WH_FD], edx
    or dword ptr [rbx + WH_FLAGS], WF_RECORD | WF_WHOLE
    mov dword ptr [rbx + WH_CRC], 0
    mov rdi, rbx
    pop rbx
    jmp seal_record
9:  pop rbx
    ret

# spool_name: rdi = room for SPOOL_NAME_CAP bytes, rsi = a spool number (WH_SPOOL).
# Writes the spool file's name, ".tmp-PID-N", NUL-terminated (startup removes
# any such file a crash left). Clobbers rax, rcx, rdx, rsi, rdi, r8, r9.
spool_name:
    push rsi
    lea rsi, [rip + tmp_prefix]
    mov edx, OFFSET tmp_prefix_len
    call copy
    mov rdi, rax
    mov esi, dword ptr [rip + w_pid]
    call fmt_u64
    mov byte ptr [rax], '-'
    lea rdi, [rax + 1]
    pop rsi
    call fmt_u64
    mov byte ptr [rax], 0
    ret

# spool_unlink: rdi = write handle. Removes the spool file its write made, if
# it has one (WH_SPOOL), and forgets it. Only store_spool sets WH_SPOOL, so
# no other request's bytes can ever be taken for a file name.
# Clobbers rax, rcx, rdx, rsi, rdi, r11 (keeps r8-r10, as abort_upload must).
spool_unlink:
    push rbx
    push r8
    push r9
    push r10
    sub rsp, SPOOL_NAME_CAP + 8
    mov rbx, rdi
    mov rsi, qword ptr [rbx + WH_SPOOL]
    test rsi, rsi
    jz 1f
    mov rdi, rsp
    call spool_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    xor edx, edx
    mov eax, SYS_unlinkat                 # ENOENT here only means it was removed
    syscall
    mov qword ptr [rbx + WH_SPOOL], 0
1:  add rsp, SPOOL_NAME_CAP + 8
    pop r10
    pop r9
    pop r8
    pop rbx
    ret


.section .rodata
.globl tmp_prefix
tmp_prefix: .ascii ".tmp-"
.equ tmp_prefix_len, . - tmp_prefix

.bss
.globl dir_fd
.p2align 3
dir_fd: .space 4                           # the data directory, open in every process
.text
