# logstore.s - the log engine behind the store's named functions.
#
# The HTTP side calls do_get, start_upload, store_bytes, finish_upload,
# do_delete, key_exists and abort_upload (store.s, body.s, commit.s); with
# --engine log they come here. A write:
#   1. reserves its record in the worker's active segment (segment.s) and
#      writes the header and key;
#   2. streams the body after them (pwrite at C_WOFF, CRC kept in C_CRC) -
#      a small body already in the input buffer skips this: the whole record
#      is written by one pwrite in step 3;
#   3. takes a sequence number and writes the footer (sealing the record);
#   4. with --sync always waits for the worker's next group commit: one
#      fdatasync of the segment for the whole group (commit.s);
#   5. is published in the shared index (index.s) and answered.
# A record is visible only once durable, and acknowledged only once visible.
# A create-only write (If-None-Match: *) claims its key in step 3, before its
# footer exists, so a write that loses never leaves a valid record behind.
.text

# loc_has_value: rax = a LOC. ZF clear (jnz) if it names a value: written,
# not a delete, not a claim still in flight. Clobbers rcx.
.macro LOC_HAS_VALUE
    mov rcx, LOC_TOMB | LOC_PENDING
    test rax, rcx
    setz cl
    test rax, rax
    setnz ch
    and cl, ch
.endm

# log_loc: rdi = conn. Returns rax = the LOC of the key's newest write, 0 if
# it was never written. Clobbers the caller-saved registers.
log_loc:
    push rbx
    mov rbx, rdi
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_lookup
    test rax, rax
    jz 1f
    mov rax, qword ptr [rax + N_LOC]
1:  pop rbx
    ret

# log_key_exists: rdi = conn. Returns eax = 1 if the key has a value or a
# create-only write holds it, else 0. Clobbers the caller-saved registers.
.globl log_key_exists
log_key_exists:
    sub rsp, 8
    call log_loc
    add rsp, 8
    xor ecx, ecx
    test rax, rax
    jz 1f
    bt rax, 63                            # LOC_TOMB
    jc 1f
    inc ecx
1:  mov eax, ecx
    ret

# log_get: rdi = conn with C_NAME set; method GET or HEAD.
# Finds the key's record, checks its header and key (and, for a record that
# fits in REC_SMALL, its value) against their CRCs, and answers as do_get
# does. A small value goes out in the answer's own write; a larger one is sent
# from the segment with sendfile. 500 if the record does not check out.
# Clobbers the caller-saved registers.
.globl log_get
log_get:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r15d, 4                           # tries: see below
.Llg_lookup:
    mov rdi, rbx
    call log_loc
    mov r12, rax
    LOC_HAS_VALUE
    test cl, cl
    jz .Llg_404
    mov esi, R_304                        # If-None-Match: * and the key exists
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jnz .Llg_respond
    mov rdi, r12
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    call seg_fd
    test rax, rax
    jns 1f
    cmp rax, -ENOENT                      # compacted away since we looked: the
    jne .Llg_io                           # index has the record's new place
    dec r15d
    jnz .Llg_lookup
    jmp .Llg_io
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
    js .Llg_io
    mov r15, rax
    lea r12, [rip + w_rec]
    cmp r15, REC_HDR
    jb .Llg_corrupt
    cmp dword ptr [r12 + REC_MAGIC], REC_MAGIC_V1
    jne .Llg_corrupt
    mov eax, dword ptr [r12 + REC_KLEN]
    cmp rax, qword ptr [rbx + C_NAME_LEN]
    jne .Llg_corrupt
    lea rdx, [rax + REC_HDR - 8]
    lea rcx, [rax + REC_HDR]
    cmp r15, rcx
    jb .Llg_corrupt
    xor edi, edi
    lea rsi, [r12 + 8]
    call crc32c
    cmp eax, dword ptr [r12 + REC_HCRC]
    jne .Llg_corrupt
    mov ecx, dword ptr [r12 + REC_KLEN]   # the record is the key's own
    lea rsi, [r12 + REC_HDR]
    lea rdi, [rbx + C_NAME]
    repe cmpsb
    jne .Llg_corrupt
    mov edi, dword ptr [r12 + REC_KLEN]
    mov rsi, qword ptr [r12 + REC_VLEN]
    call rec_len
    xor r8d, r8d                          # the value in memory, if it all came
    cmp rax, r15
    ja .Llg_serve
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
    jne .Llg_corrupt
    cmp dword ptr [r15 + FT_MAGIC], FT_MAGIC_V1
    jne .Llg_corrupt
    mov eax, dword ptr [r12 + REC_KLEN]
    lea r8, [r12 + rax + REC_HDR]
.Llg_serve:
    or dword ptr [rbx + C_FLAGS], F_SEG_FD
    mov eax, dword ptr [r12 + REC_KLEN]
    lea rcx, [r14 + rax + REC_HDR]        # the value's first byte in the file
    mov rdi, rbx
    mov rsi, qword ptr [r12 + REC_VLEN]
    mov edx, r13d
    call serve_value
.Llg_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Llg_404:
    mov esi, R_404
.Llg_respond:
    mov rdi, rbx
    call respond
    jmp .Llg_out
.Llg_corrupt:
    mov esi, R_500
    jmp .Llg_respond
.Llg_io:
    mov rdi, rax
    call io_kind
    mov esi, eax
    jmp .Llg_respond

# log_start_upload: rdi = conn with C_NAME set; PUT or POST with a
# Content-Length within --max-body. Reserves the record and writes its header
# and key, then streams the body (ST_BODY); a body that is already buffered
# and small is written with the record at once and goes to the commit.
# On failure answers 507/500/503 and closes. Clobbers the caller-saved registers.
.globl log_start_upload
log_start_upload:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_CL]       # the value's length
    mov rdi, qword ptr [rbx + C_NAME_LEN]
    mov rsi, r12
    call rec_len
    mov r13, rax
    mov rdi, rax
    call seg_reserve
    test rax, rax
    js .Lls_fail
    mov qword ptr [rbx + C_REC_LOC], rax
    mov r14, LOC_OFF_MASK
    and r14, rax
    mov r15d, dword ptr [rip + w_seg_fd]  # the record's segment
    mov rdi, rbx
    mov rsi, r12
    mov edx, REC_PUT
    call rec_header
    mov dword ptr [rbx + C_HCRC], eax
    mov dword ptr [rbx + C_UP_FD], r15d
    or dword ptr [rbx + C_FLAGS], F_LOG_REC
    mov dword ptr [rbx + C_CRC], 0
    mov r15, qword ptr [rbx + C_NAME_LEN]
    add r15, REC_HDR                      # header and key
    cmp r13, REC_BUF
    ja .Lls_stream
    mov rax, qword ptr [rbx + C_IN_LEN]
    sub rax, qword ptr [rbx + C_IN_POS]
    cmp rax, r12
    jb .Lls_stream
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
    xor edi, edi
    lea rsi, [rip + w_rec]
    add rsi, r15
    mov rdx, r12
    call crc32c
    mov dword ptr [rbx + C_CRC], eax
    mov rdi, rbx
    mov esi, 1
    call log_seal
    jmp .Lls_out
.Lls_stream:
    mov edi, dword ptr [rbx + C_UP_FD]
    lea rsi, [rip + w_rec]
    mov rdx, r15
    mov rcx, r14
    call pwrite_all
    test rax, rax
    js .Lls_fail_release
    add r14, r15
    mov qword ptr [rbx + C_WOFF], r14
    mov rdi, rbx
    call begin_body
.Lls_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lls_fail_release:
    mov r12, rax
    mov rdi, qword ptr [rbx + C_REC_LOC]
    mov rsi, r13
    call seg_release
    mov dword ptr [rbx + C_UP_FD], -1
    mov rax, r12
.Lls_fail:
    mov rdi, rax
    call io_kind
    mov esi, eax
    mov rdi, rbx
    call fail
    jmp .Lls_out

# log_vlen: rdi = conn with a record. Returns rax = its value's length: a
# delete has none, a put's is C_CL. Clobbers nothing else.
log_vlen:
    xor eax, eax
    cmp dword ptr [rdi + C_METHOD], M_DELETE
    je 1f
    mov rax, qword ptr [rdi + C_CL]
1:  ret

# log_rec_len: rdi = conn with a record. Returns rax = the record's length.
# Clobbers rdi, rsi.
log_rec_len:
    call log_vlen
    mov rsi, rax
    mov rdi, qword ptr [rdi + C_NAME_LEN]
    jmp rec_len

# log_seal: rdi = conn whose record is written but for its footer, esi = 1 if
# the whole record is in w_rec (then it is written here, in one call).
# Takes the write's sequence number, claims the key for a create-only write
# (412 if it is taken: the record stays unsealed, so it never counts), writes
# the footer, and commits. Clobbers the caller-saved registers.
log_seal:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov r15d, esi
    call next_seq
    mov qword ptr [rbx + C_WOFF], rax
    mov rdi, rbx
    call log_rec_len
    mov r13, rax
    mov r14, LOC_OFF_MASK
    and r14, qword ptr [rbx + C_REC_LOC]
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jz 2f
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    je 2f
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_node
    test rax, rax
    js .Lsl_release
    mov rdi, rax
    mov rsi, qword ptr [rbx + C_WOFF]
    call claim_loc
    call index_claim
    cmp eax, PUB_NEW
    jne .Lsl_taken
    or dword ptr [rbx + C_FLAGS], F_CLAIMED
    mov rsi, qword ptr [rbx + C_REC_LOC]
    call pub_count                        # a delete it replaced is dead now
2:  test r15d, r15d
    jz 3f
    mov rdi, rbx                          # zero the padding: from the value's end
    call log_vlen                         # (the footer covers what spills over)
    add rax, qword ptr [rbx + C_NAME_LEN]
    lea rcx, [rip + w_rec]
    mov qword ptr [rcx + rax + REC_HDR], 0
    lea rdi, [rcx + r13 - FT_SIZE]
    mov esi, dword ptr [rbx + C_CRC]
    mov edx, dword ptr [rbx + C_HCRC]
    mov rcx, qword ptr [rbx + C_WOFF]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov rdx, r13
    mov rcx, r14
    jmp 4f
3:  lea rdi, [rip + w_rec]                # the footer alone, at the record's end
    mov esi, dword ptr [rbx + C_CRC]
    mov edx, dword ptr [rbx + C_HCRC]
    mov rcx, qword ptr [rbx + C_WOFF]
    call rec_seal
    lea rsi, [rip + w_rec]
    mov edx, FT_SIZE
    lea rcx, [r14 + r13 - FT_SIZE]
4:  mov edi, dword ptr [rbx + C_UP_FD]
    call pwrite_all
    test rax, rax
    js .Lsl_failed
    mov rdi, qword ptr [rbx + C_REC_LOC]
    call loc_entry
    lock inc dword ptr [rax + SG_TOTAL]
    mov rdi, rbx
    call log_commit
.Lsl_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lsl_failed:
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Lsl_out
.Lsl_release:
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Lsl_out
.Lsl_taken:
    mov rdi, rbx
    call abort_upload
    mov rdi, rbx
    mov esi, R_412
    call respond
    jmp .Lsl_out

# claim_loc: rbx = conn. Returns rdx = the LOC a create-only write claims its
# key with: pending until durable under --sync always. Clobbers rcx.
claim_loc:
    mov rdx, qword ptr [rbx + C_REC_LOC]
    cmp dword ptr [rip + cfg_sync], 0
    je 1f
    mov rcx, LOC_PENDING
    or rdx, rcx
1:  ret

# log_commit: rdi = conn whose record is sealed. --sync always: waits for the
# group commit (commit.s), which publishes it once durable. --sync none:
# published and answered now. Clobbers the caller-saved registers.
log_commit:
    cmp dword ptr [rip + cfg_sync], 0
    je 1f
    mov esi, COMMIT_WRITTEN
    jmp commit_enqueue
1:  push rbx
    mov rbx, rdi
    call log_publish
    mov rdi, rbx
    pop rbx
    test rax, rax
    js 2f
    mov esi, eax
    jmp respond
2:  mov rsi, rax
    jmp reject_upload

# log_publish: rdi = conn whose record is sealed (and durable, with --sync
# always). Makes it the key's newest write in the index.
# Returns rax = R_201 (new key), R_204 (replaced, or a delete of a key that
# had a value), R_404 (a delete of a key with no value), or -ENOMEM. The
# upload's descriptor is no longer its own: C_UP_FD = -1.
# Clobbers the caller-saved registers. Runs in the flusher thread too.
.globl log_publish
log_publish:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_node
    test rax, rax
    js 9f
    mov rdi, rax
    mov rsi, qword ptr [rbx + C_WOFF]
    mov rdx, qword ptr [rbx + C_REC_LOC]
    test dword ptr [rbx + C_FLAGS], F_CLAIMED
    jz 1f
    call claim_loc                        # the claim becomes the value
    mov rcx, qword ptr [rbx + C_REC_LOC]
    call index_set
    mov eax, R_201
    jmp 8f
1:  xor ecx, ecx
    cmp dword ptr [rbx + C_METHOD], M_DELETE
    jne 2f
    mov rcx, LOC_TOMB
    or rdx, rcx
    xor ecx, ecx
    call index_publish
    mov rsi, qword ptr [rbx + C_REC_LOC]
    call pub_count
    cmp eax, PUB_NEW
    mov eax, R_404
    je 8f
    mov eax, R_204
    jmp 8f
2:  call index_publish
    mov rsi, qword ptr [rbx + C_REC_LOC]
    call pub_count
    cmp eax, PUB_NEW
    mov eax, R_201
    je 8f
    mov eax, R_204
8:  mov dword ptr [rbx + C_UP_FD], -1
    mov r12, rax
    mov rdi, qword ptr [rbx + C_REC_LOC]
    call rec_closed
    mov rax, r12
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# log_abort: rdi = conn with an unfinished or failed record (F_LOG_REC,
# C_UP_FD >= 0). Makes sure the record never counts: its footer is zeroed (it
# may have been written), a create-only claim is given back, and its room is
# reused if nothing came after it. Clobbers rax, rcx, rdx, rsi, rdi, r11 (as
# abort_upload, whose callers keep r8-r10).
.globl log_abort
log_abort:
    push rbx
    push r12
    push r8
    push r9
    push r10
    mov rbx, rdi
    call log_rec_len
    mov r12, rax
    test dword ptr [rbx + C_FLAGS], F_CLAIMED
    jz 1f
    and dword ptr [rbx + C_FLAGS], ~F_CLAIMED
    lea rdi, [rbx + C_NAME]
    mov rsi, qword ptr [rbx + C_NAME_LEN]
    call index_lookup
    test rax, rax
    jz 1f
    mov rdi, rax
    mov rsi, qword ptr [rbx + C_WOFF]
    call claim_loc
    mov rcx, LOC_TOMB
    call index_set
1:  mov edi, dword ptr [rbx + C_UP_FD]
    lea rsi, [rip + zero_buf]
    mov edx, FT_SIZE
    mov rcx, LOC_OFF_MASK
    and rcx, qword ptr [rbx + C_REC_LOC]
    lea rcx, [rcx + r12 - FT_SIZE]
    call pwrite_all                       # best effort: recovery also checks the CRC
    mov rdi, qword ptr [rbx + C_REC_LOC]
    mov rsi, r12
    call seg_release
    mov rdi, qword ptr [rbx + C_REC_LOC]
    call rec_closed
    mov dword ptr [rbx + C_UP_FD], -1
    pop r10
    pop r9
    pop r8
    pop r12
    pop rbx
    ret

# log_delete: rdi = conn with C_NAME set. 404 if the key has no value
# (If-None-Match: * - 412 if it has one); otherwise writes a delete record and
# commits it like a write: the 204 comes once it is durable.
# Clobbers the caller-saved registers.
.globl log_delete
log_delete:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    call log_loc
    LOC_HAS_VALUE
    mov esi, R_404
    test cl, cl
    jz .Lld_respond
    mov esi, R_412
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jnz .Lld_respond
    mov rdi, qword ptr [rbx + C_NAME_LEN]
    xor esi, esi
    call rec_len
    mov r12, rax
    mov rdi, rax
    call seg_reserve
    test rax, rax
    js .Lld_io
    mov qword ptr [rbx + C_REC_LOC], rax
    mov eax, dword ptr [rip + w_seg_fd]
    mov dword ptr [rbx + C_UP_FD], eax
    or dword ptr [rbx + C_FLAGS], F_LOG_REC
    mov dword ptr [rbx + C_CRC], 0
    mov rdi, rbx
    xor esi, esi
    mov edx, REC_DEL
    call rec_header
    mov dword ptr [rbx + C_HCRC], eax
    mov rdi, rbx
    mov esi, 1
    call log_seal
    pop r13
    pop r12
    pop rbx
    ret
.Lld_io:
    mov rdi, rax
    call io_kind
    mov esi, eax
.Lld_respond:
    mov rdi, rbx
    call respond
    pop r13
    pop r12
    pop rbx
    ret

# log_finish_upload: rdi = conn whose whole body is stored. Seals its record;
# a chunked body, spooled to a temporary file because its length was unknown,
# is first copied into a record (copy_file_range: in the kernel, constant
# memory). Clobbers the caller-saved registers.
.globl log_finish_upload
log_finish_upload:
    xor esi, esi
    test dword ptr [rdi + C_FLAGS], F_LOG_REC
    jnz log_seal
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, 16                           # the two offsets copy_file_range moves on
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_BODY_TOTAL]
    mov qword ptr [rbx + C_CL], r12       # the value's length, from now on
    mov rdi, qword ptr [rbx + C_NAME_LEN]
    mov rsi, r12
    call rec_len
    mov r13, rax
    mov rdi, rax
    call seg_reserve
    test rax, rax
    js .Llf_failed
    mov qword ptr [rbx + C_REC_LOC], rax
    mov r14, LOC_OFF_MASK
    and r14, rax
    mov r15d, dword ptr [rip + w_seg_fd]
    mov rdi, rbx
    mov rsi, r12
    mov edx, REC_PUT
    call rec_header
    mov dword ptr [rbx + C_HCRC], eax
    mov edi, r15d
    lea rsi, [rip + w_rec]
    mov rdx, qword ptr [rbx + C_NAME_LEN]
    add rdx, REC_HDR
    mov rcx, r14
    call pwrite_all
    test rax, rax
    js .Llf_release
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
    js .Llf_release
    jz .Llf_short
    sub r12, rax
    jmp 1b
2:  mov edi, dword ptr [rbx + C_UP_FD]    # the spool is done with
    mov eax, SYS_close
    syscall
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    xor edx, edx
    mov eax, SYS_unlinkat                 # a crash leaves it to startup's cleanup
    syscall
    mov byte ptr [rbx + C_TMP], 0
    mov dword ptr [rbx + C_UP_FD], r15d
    or dword ptr [rbx + C_FLAGS], F_LOG_REC
    mov rdi, rbx
    xor esi, esi
    call log_seal
.Llf_out:
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Llf_short:
    mov rax, -EIO                         # the spool ended early
.Llf_release:
    push rax
    push rax
    mov rdi, qword ptr [rbx + C_REC_LOC]
    mov rsi, r13
    call seg_release
    pop rax
    pop rax
.Llf_failed:
    mov rdi, rbx
    mov rsi, rax
    call reject_upload
    jmp .Llf_out
