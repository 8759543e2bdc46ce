# store.s - the data directory: one file per key, named by its encoded key.
#
# A write goes to a temporary file ".tmp-PID-SEQ" (no key's name starts with
# "."), which is flushed and then renamed over the key, so a reader sees the
# old value or the new one, never a mix. With --sync always the data is
# fdatasync'd before the rename and the directory fsync'd before the answer.
.text

# remove_temps: rdi = name prefix, rsi = prefix length.
# Unlinks every entry of the data directory whose name starts with the prefix
# (temporary files left by a crash). Returns rax = 0 or -errno.
# Clobbers the caller-saved registers.
.globl remove_temps
remove_temps:
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
    js .Lrt_out
.Lrt_batch:
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, 4096
    mov eax, SYS_getdents64
    syscall
    cmp rax, -EINTR
    je .Lrt_batch
    test rax, rax
    jle .Lrt_out                          # 0: end of directory; <0: error
    mov r14, rax                          # bytes in this batch
    xor ebx, ebx                          # offset of the entry
.Lrt_entry:
    cmp rbx, r14
    jae .Lrt_batch
    lea r15, [rsp + rbx + DIRENT_NAME]
    movzx eax, word ptr [rsp + rbx + DIRENT_RECLEN]
    add rbx, rax
    xor ecx, ecx
1:  cmp rcx, r13
    jae 2f
    movzx eax, byte ptr [r15 + rcx]
    cmp al, byte ptr [r12 + rcx]
    jne .Lrt_entry
    inc rcx
    jmp 1b
2:  mov edi, dword ptr [rip + dir_fd]
    mov rsi, r15
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    test rax, rax                         # ENOENT: another process beat us to it
    jns .Lrt_entry
    cmp rax, -ENOENT
    je .Lrt_entry
    jmp .Lrt_out
.Lrt_out:
    add rsp, 4096
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# io_kind: rdi = -errno of a failed storage call.
# Returns eax = R_507 when the disk or quota is full, R_503 when the process
# or the system is out of descriptors or memory (it passes), else R_500.
# Clobbers nothing else.
.globl io_kind
io_kind:
    mov eax, R_507
    cmp rdi, -ENOSPC
    je 1f
    cmp rdi, -EDQUOT
    je 1f
    mov eax, R_503
    cmp rdi, -EMFILE
    je 1f
    cmp rdi, -ENFILE
    je 1f
    cmp rdi, -ENOMEM
    je 1f
    mov eax, R_500
1:  ret

# do_get: rdi = conn with C_NAME set; method GET or HEAD.
# Opens the value (the open file keeps the value it had, whatever renames come
# later), answers 200 with its length, and for GET leaves the file to be sent
# by the write step. 404 if absent. Clobbers the caller-saved registers.
.globl do_get
do_get:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    je log_get
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_NAME]
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lgt_open_failed
    mov r12, rax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lgt_stat_failed
    mov eax, dword ptr [rip + w_stat + ST_MODE]
    and eax, S_IFMT
    cmp eax, S_IFREG                      # only regular files are values
    jne .Lgt_not_value
    mov esi, R_304                        # If-None-Match: * and the key exists
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jnz 2f
    mov rdi, rbx
    mov rsi, qword ptr [rip + w_stat + ST_SIZE]
    mov edx, r12d
    xor ecx, ecx
    xor r8d, r8d
    call serve_value
.Lgt_out:
    add rsp, 8
    pop r12
    pop rbx
    ret
.Lgt_open_failed:
    mov esi, R_404
    cmp rax, -ENOENT
    je 1f
    cmp rax, -ELOOP                       # a symlink planted in the directory
    je 1f
    mov rdi, rax
    call io_kind                          # 503 when out of descriptors, else 500
    mov esi, eax
1:  mov rdi, rbx
    call respond
    jmp .Lgt_out
.Lgt_not_value:
    mov esi, R_404
    jmp 2f
.Lgt_stat_failed:
    mov esi, R_500
2:  push rsi
    push rsi
    mov edi, r12d
    mov eax, SYS_close
    syscall
    pop rsi
    pop rsi
    mov rdi, rbx
    call respond
    jmp .Lgt_out

# serve_value: rdi = conn (GET or HEAD), rsi = the value's size, edx = a
# descriptor holding it (closed here when done with, unless F_SEG_FD), rcx =
# the file offset of its first byte, r8 = the whole value in memory, or 0.
# Answers 200, or for one satisfiable byte range of a GET 206 (416 if it starts
# past the end), and leaves the bytes to send: copied after the head when they
# fit there and are in memory (one write for the whole answer), else to the
# write step's sendfile. Clobbers the caller-saved registers.
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
    test rsi, rsi
    jz .Lsv_release
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
    jmp .Lsv_release
.Lsv_file:
    mov dword ptr [rbx + C_GET_FD], r13d
    add rdx, r14
    mov qword ptr [rbx + C_FILE_OFF], rdx
    mov qword ptr [rbx + C_FILE_LEFT], rsi
    jmp .Lsv_out
.Lsv_unsatisfiable:
    mov qword ptr [rbx + C_RANGE_B], r12
    mov rdi, rbx
    mov esi, R_416
    call respond
.Lsv_release:
    test dword ptr [rbx + C_FLAGS], F_SEG_FD
    jnz .Lsv_out
    mov edi, r13d
    mov eax, SYS_close                    # read-only: close cannot lose data
    syscall
.Lsv_out:
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# do_delete: rdi = conn with C_NAME set.
# Unlinks the key: 204, or 404 if absent. With --sync always the 204 waits
# for the next group commit to flush the directory (commit.s).
# Clobbers the caller-saved registers.
.globl do_delete
do_delete:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    je log_delete
    push rbx
    mov rbx, rdi
    test dword ptr [rbx + C_FLAGS], F_IF_NONE_STAR
    jz 3f
    call key_exists                       # If-None-Match: * fails if the key exists
    mov esi, R_412
    test eax, eax
    jnz 2f
3:  mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_NAME]
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    mov esi, R_404
    cmp rax, -ENOENT
    je 2f
    test rax, rax
    js 1f
    mov esi, R_204
    cmp dword ptr [rip + cfg_sync], 0
    je 2f
    mov rdi, rbx
    mov esi, COMMIT_UNLINKED
    call commit_enqueue
    pop rbx
    ret
1:  mov rdi, rax
    call io_kind
    mov esi, eax
2:  mov rdi, rbx
    call respond
    pop rbx
    ret

# key_exists: rdi = conn with C_NAME set. Returns eax = 1 if something has the
# key's name in the data directory, else 0. Clobbers rcx, rdx, rsi, rdi, r10, r11.
.globl key_exists
key_exists:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    je log_key_exists
    lea rsi, [rdi + C_NAME]
    mov edi, dword ptr [rip + dir_fd]
    lea rdx, [rip + w_stat]               # the worker's: callers run on the event loop
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    xor ecx, ecx
    test rax, rax
    sete cl
    mov eax, ecx
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
# Creates the temporary file and enters ST_BODY (after a 100 Continue if the
# client waits for one). On failure answers 507/500 and closes. The log engine
# writes a body of known length straight into its record; a chunked one goes
# to a temporary file first, and into a record when its length is known.
# Clobbers the caller-saved registers.
.globl start_upload
start_upload:
    cmp dword ptr [rip + cfg_engine], ENGINE_LOG
    jne 1f
    test dword ptr [rdi + C_FLAGS], F_CHUNKED
    jz log_start_upload
1:  push rbx
    mov rbx, rdi
    lea rdi, [rbx + C_TMP]
    lea rsi, [rip + tmp_prefix]
    mov edx, OFFSET tmp_prefix_len
    call copy
    mov rdi, rax
    mov esi, dword ptr [rip + w_pid]
    call fmt_u64
    mov byte ptr [rax], '-'
    lea rdi, [rax + 1]
    mov rsi, qword ptr [rip + w_seq]
    inc qword ptr [rip + w_seq]
    call fmt_u64
    mov byte ptr [rax], 0
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    mov edx, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC  # readable: the log engine copies it
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lsu_failed
    mov dword ptr [rbx + C_UP_FD], eax
    mov dword ptr [rbx + C_CRC], 0
    mov rdi, rbx
    call begin_body
.Lsu_out:
    pop rbx
    ret
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

# abort_upload: rdi = conn. Drops an unfinished upload: closes and unlinks its
# temporary file, so the key keeps its old value. Clobbers rax, rcx, rdx, rsi, rdi, r11.
.globl abort_upload
abort_upload:
    test dword ptr [rdi + C_FLAGS], F_LOG_REC
    jz 3f
    cmp dword ptr [rdi + C_UP_FD], 0
    jge log_abort
    ret
3:  push rbx
    mov rbx, rdi
    mov edi, dword ptr [rbx + C_UP_FD]
    test edi, edi
    js 1f
    mov eax, SYS_close                    # the data is being thrown away anyway
    syscall
    mov dword ptr [rbx + C_UP_FD], -1
1:  mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rbx + C_TMP]
    cmp byte ptr [rsi], 0
    je 2f
    xor edx, edx
    mov eax, SYS_unlinkat                 # ENOENT here only means it was renamed
    syscall
    mov byte ptr [rbx + C_TMP], 0
2:  pop rbx
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
