# store.s - the store's named functions, what the HTTP side calls:
#   do_get        answer a GET/HEAD from the key's record
#   write_conds   (cond.s) a write's preconditions, before its body is read
#   start_upload  a PUT/POST: where its body goes
#   store_bytes   (body.s) body bytes, as they arrive
#   finish_upload the body is complete: seal and commit its record
#   abort_upload  the upload failed: it never counts
#   do_delete     a DELETE: a delete record, committed like a write
# Behind them: records in segments (segment.s), the shared index (index.s),
# group commits (commit.s). A body of known length streams straight into its
# record; a chunked one, whose length is unknown until its end, is spooled to
# a temporary file ".tmp-PID-SEQ" first (no key's name starts with ".").
#
# A write:
#   1. reserves its record in the worker's active segment and writes the
#      header and key;
#   2. streams the body after them (pwrite at C_WOFF, CRC kept in C_CRC) -
#      a small body already in the input buffer skips this: the whole record
#      is written by one pwrite in step 3;
#   3. takes a sequence number and writes the footer (sealing the record);
#   4. with --sync always waits for the worker's next group commit: one
#      fdatasync of the segment for the whole group (commit.s);
#   5. is published in the shared index and answered.
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

# serve_value: rdi = conn (GET or HEAD), rsi = the value's size, edx = the
# segment holding it (the process keeps it open), rcx = the file offset of its
# first byte, r8 = the whole value in memory, or 0.
# Answers 200, or for one satisfiable byte range of a GET 206 (416 if it starts
# past the end), and leaves the bytes to send: copied after the head when they
# fit there and are in memory (one write for the whole answer), else to the
# write step's sendfile. A value with metadata (C_META: the record's bytes
# before the value) is sent from the file after its block, which ends the head.
# Clobbers the caller-saved registers.
.globl serve_value
serve_value:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, rsi
    mov r13d, edx
    mov r14, rcx
    mov r15, r8
    # one byte range, for GET only (RFC 9110 14.2): rdx = first, rsi = count
    cmp dword ptr [rbx + C_METHOD], M_GET
    jne .Lsv_whole
    mov eax, dword ptr [rbx + C_FLAGS]
    and eax, F_RANGE | F_RANGE_IGNORE
    cmp eax, F_RANGE
    jne .Lsv_whole
    test dword ptr [rbx + C_COND], CD_IF_RANGE  # only for the value its tag names
    jz 1f
    mov rax, qword ptr [rbx + C_IF_RANGE]
    cmp rax, qword ptr [rbx + C_TAG_SEQ]
    jne .Lsv_whole
1:
    mov rcx, r12
    lea rsi, [rcx - 1]
    test dword ptr [rbx + C_FLAGS], F_RANGE_SUFFIX
    jz 3f
    mov rax, qword ptr [rbx + C_RANGE_A]  # the last N bytes
    test rax, rax
    jz .Lsv_unsatisfiable
    test rcx, rcx
    jz .Lsv_unsatisfiable
    mov rdx, rcx
    sub rdx, rax
    jae 4f
    xor edx, edx                          # more than the whole value: all of it
    jmp 4f
3:  mov rdx, qword ptr [rbx + C_RANGE_A]
    cmp rdx, rcx
    jae .Lsv_unsatisfiable                # starts past the end
    cmp rsi, qword ptr [rbx + C_RANGE_B]
    jbe 4f
    mov rsi, qword ptr [rbx + C_RANGE_B]  # ends before the end of the value
4:  sub rsi, rdx
    inc rsi                               # bytes to send, at least one
    push rdx
    push rsi
    mov rdi, rbx
    mov rcx, r12
    call respond_value
    pop rsi
    pop rdx
    jmp .Lsv_send
.Lsv_whole:
    mov rdi, rbx
    mov rsi, r12
    xor edx, edx
    mov rcx, RANGE_OPEN
    call respond_value
    xor edx, edx
    mov rsi, r12
    cmp dword ptr [rbx + C_METHOD], M_HEAD
    jne .Lsv_send
    xor esi, esi                          # HEAD: the same head, no body
.Lsv_send:
    mov eax, dword ptr [rbx + C_META]
    test rax, rax
    jnz .Lsv_meta
    test rsi, rsi
    jz .Lsv_out
    test r15, r15
    jz .Lsv_file
    mov rax, qword ptr [rbx + C_OUT_LEN]
    lea rcx, [rax + rsi]
    cmp rcx, OUT_CAP
    ja .Lsv_file
    mov qword ptr [rbx + C_OUT_LEN], rcx
    lea rdi, [rbx + rax + C_OUT]
    lea rax, [r15 + rdx]
    mov rdx, rsi
    mov rsi, rax
    call copy
    jmp .Lsv_out
.Lsv_file:
    mov dword ptr [rbx + C_GET_FD], r13d
    add rdx, r14
    mov qword ptr [rbx + C_FILE_OFF], rdx
    mov qword ptr [rbx + C_FILE_LEFT], rsi
    jmp .Lsv_out
.Lsv_meta:                                # rax = MP_SIZE and the block: the block
    sub rax, MP_SIZE                      # goes first (it ends the head), then the
    test r15, r15                         # bytes asked for: after the head if all
    jz 3f                                 # of it is in memory and fits, in one write
    mov rcx, qword ptr [rbx + C_OUT_LEN]  # (the block is in memory just before the
    add rcx, rax                          # value)
    add rcx, rsi
    cmp rcx, OUT_CAP
    ja 3f
    mov qword ptr [rbx + C_OUT_LEN], rcx
    push rdx
    push rsi
    sub rcx, rsi
    sub rcx, rax                          # the head's length
    lea rdi, [rbx + rcx + C_OUT]
    mov rsi, r15
    sub rsi, rax
    mov rdx, rax
    call copy
    pop rdx                               # the bytes asked for: count,
    pop rsi                               #   and the first of them
    add rsi, r15
    mov rdi, rax
    call copy
    jmp .Lsv_out
3:  mov dword ptr [rbx + C_GET_FD], r13d  # else from the file
    mov rcx, r14
    sub rcx, rax
    mov qword ptr [rbx + C_FILE_OFF], rcx
    test rdx, rdx
    jnz 1f
    add rax, rsi                          # from the value's start: one range
    mov qword ptr [rbx + C_FILE_LEFT], rax
    jmp .Lsv_out
1:  mov qword ptr [rbx + C_FILE_LEFT], rax
    mov qword ptr [rbx + C_RANGE_A], rdx  # (the request's range is decided)
    mov qword ptr [rbx + C_RANGE_B], rsi
    or dword ptr [rbx + C_FLAGS], F_FILE2
    jmp .Lsv_out
.Lsv_unsatisfiable:
    mov qword ptr [rbx + C_RANGE_B], r12
    mov rdi, rbx
    mov esi, R_416
    call respond
.Lsv_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# sync_dir: with --sync always, fsyncs the data directory so that renames and
# unlinks done so far are durable. Returns rax = 0 or -errno. Clobbers rcx, rdi, r11.
sync_dir:
    xor eax, eax
    cmp dword ptr [rip + cfg_sync], 0
    je 1f
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
1:  ret

# start_upload: rdi = conn with C_NAME set; method PUT or POST, framing valid,
# Content-Length (if any) within --max-body.
# A body of known length goes straight into its record (record_upload); a
# chunked one into a temporary file, copied into a record at its end. Enters
# ST_BODY (after a 100 Continue if the client waits for one). On failure
# answers 507/500/503 and closes. Clobbers the caller-saved registers.
.globl start_upload
start_upload:
    push rdi
    call meta_finish                      # its metadata, if any, before the value
    pop rdi
    test dword ptr [rdi + C_FLAGS], F_CHUNKED
    jz record_upload
    push rbx
    push r12
    sub rsp, SPOOL_NAME_CAP + 8
    mov rbx, rdi
    inc qword ptr [rip + w_seq]           # numbers start at 1: C_SPOOL 0 is "none"
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
    js .Lsu_failed
    mov qword ptr [rbx + C_SPOOL], r12    # made by this upload: only it removes it
    mov dword ptr [rbx + C_UP_FD], eax
    mov dword ptr [rbx + C_CRC], 0
    mov edx, dword ptr [rbx + C_META]     # the spool is the value region: its
    test rdx, rdx                         # metadata first
    jz 1f
    mov edi, eax
    lea rsi, [rip + w_meta]
    call write_all
    test rax, rax
    js .Lsu_spool_failed
    xor edi, edi
    lea rsi, [rip + w_meta]
    mov edx, dword ptr [rbx + C_META]
    call crc32c
    mov dword ptr [rbx + C_CRC], eax
1:  mov rdi, rbx
    call begin_body
.Lsu_out:
    add rsp, SPOOL_NAME_CAP + 8
    pop r12
    pop rbx
    ret
.Lsu_spool_failed:
    push rax
    push rax
    mov rdi, rbx
    call abort_upload                     # (closes and removes the spool)
    pop rax
    pop rax
.Lsu_failed:
    mov rdi, rax
    call io_kind
    mov esi, eax
    mov rdi, rbx
    call fail
    jmp .Lsu_out

# begin_body: rdi = conn of an upload whose body has somewhere to go.
# Enters ST_BODY, and sends 100 Continue if the client waits for one.
# Clobbers the caller-saved registers.
.globl begin_body
begin_body:
    push rbx
    mov rbx, rdi
    xor eax, eax
    mov qword ptr [rbx + C_BODY_TOTAL], rax
    mov dword ptr [rbx + C_CHUNK_ST], CH_SIZE0
    mov qword ptr [rbx + C_CHUNK_CNT], rax
    test dword ptr [rbx + C_FLAGS], F_CHUNKED
    jnz 1f
    mov rax, qword ptr [rbx + C_CL]
1:  mov qword ptr [rbx + C_BODY_LEFT], rax
    mov dword ptr [rbx + C_STATE], ST_BODY
    mov rdi, rbx
    mov rsi, qword ptr [rip + cfg_io_timeout]
    call set_deadline
    # 100 Continue only to an HTTP/1.1 client that waits for it with a body to send
    mov eax, dword ptr [rbx + C_FLAGS]
    test eax, F_EXPECT
    jz .Lbb_out
    test eax, F_HTTP10
    jnz .Lbb_out
    mov rcx, qword ptr [rbx + C_IN_POS]
    cmp rcx, qword ptr [rbx + C_IN_LEN]
    jne .Lbb_out
    test eax, F_CHUNKED
    jnz 2f
    cmp qword ptr [rbx + C_CL], 0
    je .Lbb_out
2:  mov rdi, rbx
    call respond_continue
.Lbb_out:
    pop rbx
    ret

# abort_upload: rdi = conn. Drops an unfinished or failed upload, so the key
# keeps its old value: its record never counts (abort_record), or its
# temporary file is closed and removed. Clobbers rax, rcx, rdx, rsi, rdi, r11.
.globl abort_upload
abort_upload:
    test dword ptr [rdi + C_FLAGS], F_RECORD
    jz 3f
    cmp dword ptr [rdi + C_UP_FD], 0
    jge abort_record
    ret
3:  push rbx
    mov rbx, rdi
    mov edi, dword ptr [rbx + C_UP_FD]
    test edi, edi
    js 1f
    mov eax, SYS_close                    # the data is being thrown away anyway
    syscall
    mov dword ptr [rbx + C_UP_FD], -1
1:  mov rdi, rbx
    call spool_unlink
    pop rbx
    ret

# spool_name: rdi = room for SPOOL_NAME_CAP bytes, rsi = a spool number (C_SPOOL).
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

# spool_unlink: rdi = conn. Removes the spool file the conn's upload made, if
# it has one (C_SPOOL), and forgets it. Only an upload sets C_SPOOL, so no
# other request's bytes can ever be taken for a file name.
# Clobbers rax, rcx, rdx, rsi, rdi, r11 (keeps r8-r10, as abort_upload must).
spool_unlink:
    push rbx
    push r8
    push r9
    push r10
    sub rsp, SPOOL_NAME_CAP + 8
    mov rbx, rdi
    mov rsi, qword ptr [rbx + C_SPOOL]
    test rsi, rsi
    jz 1f
    mov rdi, rsp
    call spool_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    xor edx, edx
    mov eax, SYS_unlinkat                 # ENOENT here only means it was removed
    syscall
    mov qword ptr [rbx + C_SPOOL], 0
1:  add rsp, SPOOL_NAME_CAP + 8
    pop r10
    pop r9
    pop r8
    pop rbx
    ret


# LOC_HAS_VALUE: rax = a LOC. Drops a conditional write's claim from rax
# (the record it names is still the key's newest) and sets cl = 1 if that
# names a value: written, not a delete. Clobbers rcx.
.macro LOC_HAS_VALUE
    btr rax, LOC_CLAIM_BIT
    test rax, rax
    setnz cl
    bt rax, LOC_TOMB_BIT
    setnc ch
    and cl, ch
.endm

# key_loc: rdi = conn. Returns rax = the LOC of the key's newest write, 0 if
# it was never written. Clobbers the caller-saved registers.
key_loc:
    push rbx
    mov rbx, rdi
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_lookup
    test rax, rax
    jz 1f
    mov rdi, rax
    call index_state
    mov rax, rdx
1:  pop rbx
    ret

# do_get: rdi = conn with C_NAME set; method GET or HEAD.
# Finds the key's record, checks its header and key (and, for a record that
# fits in REC_SMALL, its value) against their CRCs, and answers as do_get
# does. A small value goes out in the answer's own write; a larger one is sent
# from the segment with sendfile. 500 if the record does not check out.
# Clobbers the caller-saved registers.
.globl do_get
do_get:
    test dword ptr [rdi + C_FLAGS], F_LIST  # a path ending in "/": its listing
    jnz list_begin
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r15d, 4                           # tries: see below
.Lgt_lookup:
    and dword ptr [rbx + C_COND], ~(CD_TAG | CD_TIME)
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_lookup
    test rax, rax
    jz .Lgt_absent
    mov rdi, rax
    call index_state
    mov qword ptr [rbx + C_TAG_SEQ], rax  # the tag, if it is a value
    mov rax, rdx
    LOC_HAS_VALUE
    mov r12, rax
    test cl, cl
    jz .Lgt_absent
    mov rdi, r12
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    jz .Lgt_damaged                       # LOC_DAMAGED: no older value instead
    call seg_fd
    test rax, rax
    jns 1f
    cmp rax, -ENOENT                      # compacted away since we looked: the
    jne .Lgt_io                           # index has the record's new place
    dec r15d
    jnz .Lgt_lookup
    jmp .Lgt_io
1:
    mov r13d, eax
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
    cmp rax, qword ptr [rbx + C_NAME_LEN]
    jne .Lgt_corrupt
    mov ecx, dword ptr [r12 + REC_KLEN]   # the record is the key's own
    lea rsi, [r12 + REC_HDR]
    lea rdi, [rbx + C_NAME]
    repe cmpsb
    jne .Lgt_corrupt
    mov rdi, rbx
    mov rsi, qword ptr [rbx + C_TAG_SEQ]
    mov rdx, qword ptr [r12 + REC_TIME]
    call set_validators
    mov rax, MAX_BODY_LIMIT               # no asmkv writes a longer value: a header
    cmp qword ptr [r12 + REC_VLEN], rax   # that says so is not believed, CRC or not
    ja .Lgt_corrupt                       # (its length would wrap rec_len's sum)
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
    mov dword ptr [rbx + C_META], eax
    mov eax, dword ptr [r12 + REC_KLEN]   # expired: as if never written
    mov rax, qword ptr [r12 + rax + REC_HDR + MP_DELETE_AT]
    call expired_at
    test eax, eax
    jz 3f
    mov dword ptr [rbx + C_META], 0
    and dword ptr [rbx + C_COND], ~(CD_TAG | CD_TIME)
    jmp .Lgt_absent
3:  mov edi, dword ptr [r12 + REC_KLEN]
    mov rsi, qword ptr [r12 + REC_VLEN]
    call rec_len
    xor r8d, r8d                          # the value in memory, if it all came
    cmp rax, r15
    ja .Lgt_serve
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
    cmp rax, qword ptr [rbx + C_TAG_SEQ]
    jne .Lgt_corrupt
    mov eax, dword ptr [r12 + REC_KLEN]   # the value in memory (after its
    lea r8, [r12 + rax + REC_HDR]         # metadata, if any)
    mov eax, dword ptr [rbx + C_META]
    add r8, rax
.Lgt_serve:
    push r8
    push r8
    mov rdi, rbx
    call eval_conds
    pop r8
    pop r8
    test eax, eax
    jnz .Lgt_cond
    mov eax, dword ptr [r12 + REC_KLEN]
    lea rcx, [r14 + rax + REC_HDR]        # the value's first byte in the file
    mov eax, dword ptr [rbx + C_META]
    add rcx, rax
    mov rdi, rbx
    mov rsi, qword ptr [r12 + REC_VLEN]
    sub rsi, rax
    mov edx, r13d
    call serve_value
.Lgt_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lgt_absent:
    mov rdi, rbx                          # If-Match fails; the rest do not matter
    call eval_conds
    mov esi, R_404
    test eax, eax
    jz .Lgt_respond
.Lgt_cond:
    mov esi, eax
.Lgt_respond:
    mov rdi, rbx
    call respond
    jmp .Lgt_out
.Lgt_corrupt:
    mov edi, LOG_CORRUPT
    mov esi, EIO
    call log_count
    mov esi, R_500
    jmp .Lgt_respond
.Lgt_damaged:
    mov esi, R_500_DAMAGED
    jmp .Lgt_respond
.Lgt_io:
    mov rdi, rax
    call io_kind
    mov esi, eax
    jmp .Lgt_respond

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

# reserve_record: rdi = conn (its key), rsi = the value's length, edx =
# REC_PUT or REC_DEL. Reserves the record in the worker's segment (C_REC_LOC)
# and builds its header and key in w_rec (C_HCRC). Returns rax = the record's
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
    mov rdi, qword ptr [rbx + C_NAME_LEN]
    call rec_len
    mov r14, rax
    mov rdi, rax
    call seg_reserve
    test rax, rax
    js 1f
    mov qword ptr [rbx + C_REC_LOC], rax
    mov rdi, rbx
    mov rsi, r12
    mov edx, r13d
    call rec_header
    mov dword ptr [rbx + C_HCRC], eax
    mov rax, qword ptr [rip + w_rec + REC_TIME]
    mov qword ptr [rbx + C_TAG_TIME], rax  # preconditions are decided: the write's own now
    mov rax, r14
    mov edx, dword ptr [rip + w_seg_fd]
1:  add rsp, 8
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# record_upload: rdi = conn with C_NAME set; PUT or POST with a
# Content-Length within --max-body. Reserves the record and writes its header
# and key, then streams the body (ST_BODY); a body that is already buffered
# and small is written with the record at once and goes to the commit.
# On failure answers 507/500/503 and closes. Clobbers the caller-saved registers.
.globl record_upload
record_upload:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_CL]       # the value's length
    mov esi, dword ptr [rbx + C_META]     # (its region: the metadata first)
    add rsi, r12
    mov edx, REC_PUT
    call reserve_record                   # (w_rec: header, key, metadata)
    test rax, rax
    js .Lru_fail
    mov r13, rax
    mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + C_REC_LOC]
    mov dword ptr [rbx + C_UP_FD], edx
    or dword ptr [rbx + C_FLAGS], F_RECORD
    cmp dword ptr [rbx + C_META], 0       # a put that expires: its segment says so
    je 1f                                 # before the record can count
    mov rsi, qword ptr [rip + w_meta + MP_DELETE_AT]
    test rsi, rsi
    jz 1f
    mov rdi, qword ptr [rbx + C_REC_LOC]
    shr rdi, LOC_SEG_SHIFT
    call seg_expiry
1:  xor eax, eax                          # the value region's CRC, from its
    mov edx, dword ptr [rbx + C_META]     # metadata on (0 if none)
    test edx, edx
    jz 2f
    xor edi, edi
    lea rsi, [rip + w_meta]
    call crc32c
2:  mov dword ptr [rbx + C_CRC], eax
    mov r15, qword ptr [rbx + C_NAME_LEN]
    add r15, REC_HDR                      # header and key
    mov eax, dword ptr [rbx + C_META]     #   and metadata
    add r15, rax
    cmp r13, REC_BUF
    ja .Lru_stream
    mov rax, qword ptr [rbx + C_IN_LEN]
    sub rax, qword ptr [rbx + C_IN_POS]
    cmp rax, r12
    jb .Lru_stream
    # the whole body is here: one record, one write
    lea rdi, [rip + w_rec]
    add rdi, r15
    mov rsi, qword ptr [rbx + C_IN_BUF]
    add rsi, qword ptr [rbx + C_IN_POS]
    mov rdx, r12
    call copy
    add qword ptr [rbx + C_IN_POS], r12
    mov qword ptr [rbx + C_BODY_LEFT], 0
    mov qword ptr [rbx + C_BODY_TOTAL], r12
    mov edi, dword ptr [rbx + C_CRC]
    lea rsi, [rip + w_rec]
    add rsi, r15
    mov rdx, r12
    call crc32c
    mov dword ptr [rbx + C_CRC], eax
    mov rdi, rbx
    mov esi, 1
    call seal_record
    jmp .Lru_out
.Lru_stream:
    mov edi, dword ptr [rbx + C_UP_FD]
    lea rsi, [rip + w_rec]
    mov rdx, r15
    mov rcx, r14
    call pwrite_all
    test rax, rax
    js .Lru_fail_release
    add r14, r15
    mov qword ptr [rbx + C_WOFF], r14
    mov rdi, rbx
    call begin_body
.Lru_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lru_fail_release:
    mov r12, rax
    mov rdi, qword ptr [rbx + C_REC_LOC]
    mov rsi, r13
    mov edx, dword ptr [rbx + C_UP_FD]
    call seg_release
    mov dword ptr [rbx + C_UP_FD], -1
    mov rax, r12
.Lru_fail:
    mov rdi, rax
    call io_kind
    mov esi, eax
    mov rdi, rbx
    call fail
    jmp .Lru_out

# upload_vlen: rdi = conn with a record. Returns rax = its value region's
# length: a delete has none, a put's is C_CL and its metadata (C_META).
# Clobbers nothing else.
upload_vlen:
    xor eax, eax
    cmp dword ptr [rdi + C_METHOD], M_DELETE
    je 1f
    mov eax, dword ptr [rdi + C_META]
    add rax, qword ptr [rdi + C_CL]
1:  ret

# upload_rec_len: rdi = conn with a record. Returns rax = the record's length.
# Clobbers rdi, rsi.
upload_rec_len:
    call upload_vlen
    mov rsi, rax
    mov rdi, qword ptr [rdi + C_NAME_LEN]
    jmp rec_len

# seal_record: rdi = conn whose record is written but for its footer, esi = 1 if
# the whole record is in w_rec (then it is written here, in one call).
# Takes the write's sequence number, claims the key for a create-only write
# (412 if it is taken: the record stays unsealed, so it never counts), writes
# the footer, and commits. Clobbers the caller-saved registers.
seal_record:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r15d, esi
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_node                       # counted before its footer can make it
    test rax, rax                         # valid (index_rec_add says why)
    js .Lsr_release
    mov rdi, rax
    call index_node_id
    mov dword ptr [rbx + C_NODE], eax
    test dword ptr [rbx + C_COND], CD_EXP
    jnz 1f
    mov rdi, rbx                          # in flight before it is numbered (flight.s)
    mov rsi, FL_UNKNOWN
    call flight_enter
    call next_seq
    mov qword ptr [rbx + C_SEQ], rax
    mov rdi, rbx
    mov rsi, rax
    call flight_seq
    jmp 2f
1:  call next_seq                         # numbered, then in flight, then the
    mov qword ptr [rbx + C_SEQ], rax     # claim: its footer comes only after it
    mov rdi, rbx
    mov rsi, rax
    call flight_enter
    mov rdi, rbx
    call cond_claim
    test eax, eax
    jnz .Lsr_taken
2:  mov rdi, rbx
    call upload_rec_len
    mov r13, rax
    mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + C_REC_LOC]
    test r15d, r15d
    jz 3f
    mov rdi, rbx                          # zero the padding: from the value's end
    call upload_vlen                         # (the footer covers what spills over)
    add rax, qword ptr [rbx + C_NAME_LEN]
    lea rcx, [rip + w_rec]
    mov qword ptr [rcx + rax + REC_HDR], 0
    lea rdi, [rcx + r13 - FT_SIZE]
    mov esi, dword ptr [rbx + C_CRC]
    mov edx, dword ptr [rbx + C_HCRC]
    mov rcx, qword ptr [rbx + C_SEQ]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov rdx, r13
    mov rcx, r14
    jmp 4f
3:  lea rdi, [rip + w_rec]                # the footer alone, at the record's end
    mov esi, dword ptr [rbx + C_CRC]
    mov edx, dword ptr [rbx + C_HCRC]
    mov rcx, qword ptr [rbx + C_SEQ]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov edx, FT_SIZE
    lea rcx, [r14 + r13 - FT_SIZE]
4:  mov edi, dword ptr [rbx + C_UP_FD]
    call pwrite_all
    test rax, rax
    js .Lsr_failed
    mov rdi, qword ptr [rbx + C_REC_LOC]
    call loc_entry
    lock inc dword ptr [rax + SG_TOTAL]
    lock add qword ptr [rax + SG_BYTES], r13
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
    push rax
    push rax
    call index_taint                      # (its count stays: the footer may be there)
    pop rax
    pop rax
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Lsr_out
.Lsr_release:
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Lsr_out
.Lsr_taken:
    mov r12d, dword ptr [rbx + C_NODE]
    mov rdi, rbx                          # out of flight first: the node may die
    call abort_upload
    mov edi, r12d                         # its footer was never written: it does
    call index_node_at                    # not count
    mov rdi, rax
    call index_rec_drop
    mov rdi, rbx
    mov esi, R_412
    call respond
    jmp .Lsr_out

# commit_record: rdi = conn whose record is sealed. --sync always: waits for the
# group commit (commit.s), which publishes it once durable. --sync none:
# published and answered now. Clobbers the caller-saved registers.
commit_record:
    cmp dword ptr [rip + cfg_sync], 0
    je 1f
    mov esi, COMMIT_WRITTEN
    jmp commit_enqueue
1:  push rbx
    mov rbx, rdi
    call publish_record
    mov rdi, rbx
    pop rbx
    test rax, rax
    js 2f
    mov esi, eax
    jmp respond
2:  mov rsi, rax
    jmp reject_upload

# publish_record: rdi = conn whose record is sealed (and durable, with --sync
# always). Makes it the key's newest write in the index.
# A conditional write settles its claim (flight.s). Returns rax = R_201 (new
# key), R_204 (replaced, or a delete of a key that had a value) or R_404 (a
# delete of a key with no value); a put's answer carries its validators. The
# write is no longer in flight, and the upload's descriptor is no longer its
# own: C_UP_FD = -1.
# Clobbers the caller-saved registers. Runs in the flusher thread too.
.globl publish_record
publish_record:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov edi, dword ptr [rbx + C_NODE]     # (seal_record found it)
    call index_node_at
    mov rdi, rax
    mov rdx, qword ptr [rbx + C_REC_LOC]
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    jne 1f
    mov rcx, LOC_TOMB
    or rdx, rcx
1:  test dword ptr [rbx + C_FLAGS], F_CLAIMED
    jz 3f
    mov rcx, rdx                          # the claim becomes the write
    mov rdx, qword ptr [rbx + C_SEQ]
    mov rsi, qword ptr [rbx + C_EXPECT]
    call index_settle
    and dword ptr [rbx + C_FLAGS], ~F_CLAIMED
    call rec_loc_flagged
    cmp eax, PUB_REPLACED                 # it replaced no value: a new key (the
    jne 5f                                # LOC it replaced says; an expired value
    mov rcx, rdx                          # was counted, and answers 201 all the
    btr rcx, LOC_CLAIM_BIT                # same: CD_HAD, below)
    test rcx, rcx
    jz 2f
    bt rcx, LOC_TOMB_BIT
    jnc 5f
2:  mov eax, PUB_NEW
5:  call pub_count
    mov eax, R_204                        # replaced, or overwritten after it was
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    je 8f
    test dword ptr [rbx + C_COND], CD_HAD
    jnz 7f
    mov eax, R_201
    jmp 7f
3:  mov rsi, qword ptr [rbx + C_SEQ]
    xor ecx, ecx
    call index_publish
    call rec_loc_flagged
    call pub_count
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    jne 4f
    cmp eax, PUB_NEW
    mov eax, R_404
    je 8f
    mov eax, R_204
    jmp 8f
4:  cmp eax, PUB_NEW
    mov eax, R_201
    je 7f
    mov eax, R_204
7:  mov r12, rax                          # a value: the answer carries its validators
    mov rdi, rbx
    mov rsi, qword ptr [rbx + C_SEQ]
    mov rdx, qword ptr [rbx + C_TAG_TIME]
    call set_validators
    mov rax, r12
8:  mov dword ptr [rbx + C_UP_FD], -1
    mov r12, rax
    mov rdi, rbx
    call flight_leave
    mov rdi, qword ptr [rbx + C_REC_LOC]
    call rec_closed
    mov rax, r12
    add rsp, 8
    pop r12
    pop rbx
    ret

# rec_loc_flagged: rbx = conn with a record. Returns rsi = its LOC, with
# LOC_TOMB for a delete. Clobbers nothing else.
rec_loc_flagged:
    mov rsi, qword ptr [rbx + C_REC_LOC]
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    jne 1f
    bts rsi, LOC_TOMB_BIT
1:  ret

# abort_record: rdi = conn with an unfinished or failed record (F_RECORD,
# C_UP_FD >= 0). Makes sure the record never counts: its footer is marked (it
# may have been written), a create-only claim is given back, and its room is
# reused if nothing came after it. Clobbers rax, rcx, rdx, rsi, rdi, r11 (as
# abort_upload, whose callers keep r8-r10).
.globl abort_record
abort_record:
    push rbx
    push r12
    push r8
    push r9
    push r10
    mov rbx, rdi
    call upload_rec_len
    mov r12, rax
    test dword ptr [rbx + C_FLAGS], F_CLAIMED
    jz 1f
    and dword ptr [rbx + C_FLAGS], ~F_CLAIMED
    mov edi, dword ptr [rbx + C_NODE]
    call index_node_at
    mov rdi, rax
    mov rsi, qword ptr [rbx + C_EXPECT]
    call index_unclaim
1:  mov rdi, rbx                          # (a record never sealed was not in flight:
    call flight_leave                     # its socket's entry is clear already)
    mov rdi, qword ptr [rbx + C_REC_LOC]  # its footer marked (seg_release): a
    mov rsi, r12                          # footer written before a failed flush
    mov edx, dword ptr [rbx + C_UP_FD]    # must not count (recovery also checks
    call seg_release                      # the CRC, should the mark not be written)
    mov dword ptr [rbx + C_UP_FD], -1
    pop r10
    pop r9
    pop r8
    pop r12
    pop rbx
    ret

# do_delete: rdi = conn with C_NAME set. 404 if the key has no value
# (If-None-Match: * - 412 if it has one); otherwise writes a delete record and
# commits it like a write: the 204 comes once it is durable.
# Clobbers the caller-saved registers.
.globl do_delete
do_delete:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r13d, 4                           # tries: a record moved meanwhile
1:  mov rdi, rbx
    call key_loc
    LOC_HAS_VALUE
    mov esi, R_404
    test cl, cl
    jz .Ldl_respond
    mov rdi, rax                          # an expired value is none (compaction
    call loc_expired                      # gives its room back)
    mov esi, R_404
    test eax, eax
    jz 2f
    jns .Ldl_respond
    dec r13d                              # compacted since the key was read
    jnz 1b
    jmp .Ldl_io
2:
    mov esi, R_412
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jnz .Ldl_respond
    mov rdi, rbx
    xor esi, esi
    mov edx, REC_DEL
    call reserve_record
    test rax, rax
    js .Ldl_io
    mov dword ptr [rbx + C_UP_FD], edx
    or dword ptr [rbx + C_FLAGS], F_RECORD
    mov dword ptr [rbx + C_CRC], 0
    mov rdi, rbx
    mov esi, 1
    call seal_record
    pop r13
    pop r12
    pop rbx
    ret
.Ldl_io:
    mov rdi, rax
    call io_kind
    mov esi, eax
.Ldl_respond:
    mov rdi, rbx
    call respond
    pop r13
    pop r12
    pop rbx
    ret

# finish_upload: rdi = conn whose whole body is stored. Seals its record;
# a chunked body, spooled to a temporary file because its length was unknown,
# is first copied into a record (copy_file_range: in the kernel, constant
# memory). Clobbers the caller-saved registers.
.globl finish_upload
finish_upload:
    xor esi, esi
    test dword ptr [rdi + C_FLAGS], F_RECORD
    jnz seal_record
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                           # the two offsets copy_file_range moves on
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_BODY_TOTAL]
    mov qword ptr [rbx + C_CL], r12       # the value's length, from now on
    mov eax, dword ptr [rbx + C_META]     # the spool: metadata, then the value
    add r12, rax
    mov rdi, rbx
    mov rsi, r12
    mov edx, REC_PUT
    call reserve_record                   # (C_CRC is the spooled value's already)
    test rax, rax
    js .Lfu_failed
    mov r13, rax
    mov r15d, edx
    cmp dword ptr [rbx + C_META], 0       # a put that expires (the spool's prefix
    je 1f                                 # says): its segment says so first
    mov edi, dword ptr [rbx + C_UP_FD]
    mov rsi, rsp
    mov edx, 8
    mov ecx, MP_DELETE_AT
    call pread_full
    cmp rax, 8                            # (its expiry must mark the segment, or
    je 2f                                 # the listings would not see it expire)
    mov rcx, -EIO
    test rax, rax
    cmovns rax, rcx
    jmp .Lfu_release
2:  mov rsi, qword ptr [rsp]
    test rsi, rsi
    jz 1f
    mov rdi, qword ptr [rbx + C_REC_LOC]
    shr rdi, LOC_SEG_SHIFT
    call seg_expiry
1:  mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + C_REC_LOC]
    mov edi, r15d
    lea rsi, [rip + w_rec]
    mov rdx, qword ptr [rbx + C_NAME_LEN]
    add rdx, REC_HDR
    mov rcx, r14
    call pwrite_all
    test rax, rax
    js .Lfu_release
    mov qword ptr [rsp], 0
    mov rax, qword ptr [rbx + C_NAME_LEN]
    lea rax, [r14 + rax + REC_HDR]
    mov qword ptr [rsp + 8], rax
1:  test r12, r12
    jz 2f
    mov edi, dword ptr [rbx + C_UP_FD]
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
    js .Lfu_release
    jz .Lfu_short
    sub r12, rax
    jmp 1b
2:  mov edi, dword ptr [rbx + C_UP_FD]    # the spool is done with
    mov eax, SYS_close
    syscall
    mov rdi, rbx                          # a crash leaves it to startup's cleanup
    call spool_unlink
    mov dword ptr [rbx + C_UP_FD], r15d
    or dword ptr [rbx + C_FLAGS], F_RECORD
    mov rdi, rbx
    xor esi, esi
    call seal_record
.Lfu_out:
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lfu_short:
    mov rax, -EIO                         # the spool ended early
.Lfu_release:
    push rax
    push rax
    mov rdi, qword ptr [rbx + C_REC_LOC]
    mov rsi, r13
    mov edx, r15d
    call seg_release
    pop rax
    pop rax
.Lfu_failed:
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Lfu_out

.section .rodata
.globl tmp_prefix
tmp_prefix: .ascii ".tmp-"
.equ tmp_prefix_len, . - tmp_prefix

.bss
.globl dir_fd
.p2align 3
dir_fd: .space 4                           # the data directory, open in every process
.text
