# import.s - taking over a data directory written by the one-file-per-key
# layout of earlier versions, and refusing one that holds anything else.
#
# At startup, after recovery and before any worker exists, the master looks at
# every entry of the data directory. Segments ("ID.seg") and temporary files
# (".tmp-...") are ours. A regular file whose name is a key as the old layout
# encoded it is a value to import. Anything else - a directory, a symlink, a
# name no key encodes to - is foreign: the server stops with its name before
# it changes anything. Each value is copied into a new segment as a record
# (its CRC computed on the way), the segment is flushed, every key published,
# and only then are the old files removed. A crash midway leaves the old files,
# and the next start imports them again (same values, newer records).
.text

# import_files: (master) imports the old layout's files, if any.
# Exits with a clear message on a foreign entry or any failure.
# Clobbers the caller-saved registers.
.globl import_files, import_kind
import_files:
    push rbx
    sub rsp, 16
    xor edi, edi                          # pass 1: check every entry
    call import_pass
    test rax, rax
    jz 9f                                 # nothing to import
    call seg_init
    test rax, rax
    js .Lif_fail
    mov edi, 1                            # pass 2: copy each value into a record
    call import_pass
    mov edi, dword ptr [rip + w_seg_fd]
    mov eax, SYS_fdatasync
    syscall
    test rax, rax
    js .Lif_fail
    mov edi, dword ptr [rip + dir_fd]     # the segment's name, for sure
    mov eax, SYS_fsync
    syscall
    test rax, rax
    js .Lif_fail
    call seg_seal                         # a worker never appends to it
    mov edi, dword ptr [rip + w_seg_fd]
    mov eax, SYS_close
    syscall
    mov edi, 2                            # pass 3: the old files go
    call import_pass
    mov edi, dword ptr [rip + dir_fd]
    mov eax, SYS_fsync
    syscall
9:  add rsp, 16
    pop rbx
    ret
.Lif_fail:
    lea rdi, [rip + err_import]
    mov esi, OFFSET err_import_len
    mov rdx, qword ptr [rip + cfg_data]
    mov ecx, eax
    neg ecx
    call fatal

# import_pass: edi = 0 (check), 1 (import) or 2 (remove). Walks the data
# directory and does that to each value file of the old layout.
# Returns rax = how many there are. Clobbers the caller-saved registers.
import_pass:
    sub rsp, 24                           # [mode, count]
    mov qword ptr [rsp], rdi
    mov qword ptr [rsp + 8], 0
    lea rdi, [rip + import_entry]
    mov rsi, rsp
    call dir_walk
    test rax, rax
    js .Lip_dir
    mov rax, qword ptr [rsp + 8]
    add rsp, 24
    ret
.Lip_dir:
    mov rdx, qword ptr [rip + cfg_data]
    lea rdi, [rip + err_import]
    mov esi, OFFSET err_import_len
    mov ecx, eax
    neg ecx
    call fatal

# import_entry: (dir_walk) rdi = an entry's name, rsi = [mode, count] of
# import_pass. Stops the server on a foreign entry; counts a value file of the
# old layout, and imports or removes it as the mode says. Returns rax = 0.
# Clobbers the caller-saved registers.
import_entry:
    push rbx
    push r12
    sub rsp, STAT_SIZE + 8
    mov r12, rdi
    mov rbx, rsi
    call import_kind
    test eax, eax
    jz 9f                                 # ours: a segment, a hint, a temporary file, . or ..
    js .Lie_foreign
    mov edi, dword ptr [rip + dir_fd]     # a value is a regular file, not a link
    mov rsi, r12
    mov rdx, rsp
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    test rax, rax
    js .Lie_foreign
    mov eax, dword ptr [rsp + ST_MODE]
    and eax, S_IFMT
    cmp eax, S_IFREG
    jne .Lie_foreign
    inc qword ptr [rbx + 8]
    cmp qword ptr [rbx], 1
    jne 1f
    mov rdi, r12
    call import_one
    jmp 9f
1:  cmp qword ptr [rbx], 2
    jne 9f
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, r12
    xor edx, edx
    mov eax, SYS_unlinkat
    syscall
    test rax, rax
    jns 9f
    lea rdi, [rip + err_import]
    mov esi, OFFSET err_import_len
    mov rdx, r12
    mov ecx, eax
    neg ecx
    call fatal
9:  xor eax, eax
    add rsp, STAT_SIZE + 8
    pop r12
    pop rbx
    ret
.Lie_foreign:
    lea rdi, [rip + err_foreign]
    mov esi, OFFSET err_foreign_len
    mov rdx, r12
    xor ecx, ecx
    call fatal

# import_kind: rdi = a directory entry's name. Returns eax = 0 for our own
# entries (".", "..", "ID.seg", "ID.hint", ".tmp-...", ".asmkv-index",
# ".asmkv-seals"), 1 for a name the old layout gave
# a key (letters, digits, "-_~." - not "." first - and "%XX" in uppercase
# for any other byte but NUL, nothing spelled two ways), -1 for anything else.
# Clobbers rcx, rdx, rsi, rdi, r8, r9.
import_kind:
    push rbx
    mov rbx, rdi
    call cstr_len
    mov r9, rax
    xor eax, eax
    cmp byte ptr [rbx], '.'
    jne 2f
    cmp r9, 1                             # "."
    je 9f
    cmp r9, 2
    jne 1f
    cmp byte ptr [rbx + 1], '.'           # ".."
    je 9f
1:  cmp r9, 12                            # ".asmkv-index" (snapshot.s)
    jne 11f
    mov rcx, qword ptr [rip + snap_name]
    cmp qword ptr [rbx], rcx
    jne 12f
    mov ecx, dword ptr [rip + snap_name + 8]
    cmp dword ptr [rbx + 8], ecx
    je 9f
12: mov rcx, qword ptr [rip + seals_name] # ".asmkv-seals" (seal.s)
    cmp qword ptr [rbx], rcx
    jne 11f
    mov ecx, dword ptr [rip + seals_name + 8]
    cmp dword ptr [rbx + 8], ecx
    je 9f
11: cmp r9, OFFSET tmp_prefix_len
    jb 8f
    mov ecx, dword ptr [rip + tmp_prefix]
    cmp dword ptr [rbx], ecx              # ".tmp": the rest of the prefix too
    jne 8f
    mov cl, byte ptr [rip + tmp_prefix + 4]
    cmp byte ptr [rbx + 4], cl
    jne 8f
    jmp 9f
2:  cmp r9, 5                             # "ID.seg"
    jb 3f
    cmp dword ptr [rbx + r9 - 4], 0x6765732e
    jne 10f
    mov rdi, rbx
    lea rsi, [r9 - 4]
    call parse_u64
    test edx, edx
    mov eax, 0
    jz 9f
    jmp 3f
10: cmp r9, 6                             # "ID.hint"
    jb 3f
    cmp dword ptr [rbx + r9 - 5], 0x6e69682e   # ".hin"
    jne 3f
    cmp byte ptr [rbx + r9 - 1], 't'
    jne 3f
    mov rdi, rbx
    lea rsi, [r9 - 5]
    call parse_u64
    test edx, edx
    mov eax, 0
    jz 9f
3:  cmp r9, NAME_MAX                      # a key's name
    ja 8f
    lea r8, [rip + char_class]
    xor ecx, ecx
4:  cmp rcx, r9
    jae 7f
    movzx eax, byte ptr [rbx + rcx]
    inc rcx
    test byte ptr [r8 + rax], CC_KEY
    jnz 4b
    cmp eax, '%'
    jne 8f
    lea rax, [rcx + 2]
    cmp rax, r9
    ja 8f
    xor edx, edx                          # two uppercase hex digits
    call .Lik_digit
    shl edx, 4
    call .Lik_digit
    test edx, edx
    jz 8f                                 # %00
    test byte ptr [r8 + rdx], CC_KEY      # a byte that stands for itself, spelled
    jz 4b                                 # as %XX: only "." first, as %2E
    cmp edx, '.'
    jne 8f
    cmp rcx, 3
    jne 8f
    jmp 4b
7:  mov eax, 1
    jmp 9f
8:  mov eax, -1
9:  pop rbx
    ret
# .Lik_digit: rbx + rcx = an uppercase hex digit. Adds its value to edx and
# moves on; a byte that is not one ends import_kind with -1.
.Lik_digit:
    movzx eax, byte ptr [rbx + rcx]
    inc rcx
    sub eax, '0'
    cmp eax, 9
    jbe 1f
    sub eax, 'A' - '0'
    cmp eax, 5
    ja 2f
    add eax, 10
1:  add edx, eax
    ret
2:  add rsp, 8                            # out of import_kind's frame
    mov eax, -1
    pop rbx
    ret

# import_one: rdi = the name of a value file of the old layout (its key).
# Copies it into a record of the master's segment through the store's write
# path (WF_NOW: published at once; import_files flushes the segment before
# any worker can read it). Exits with a message on any failure. Clobbers the
# caller-saved registers.
import_one:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov rbx, rdi
    mov rsi, rdi
    mov edi, dword ptr [rip + dir_fd]
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lio_fail
    mov r12d, eax                         # the file
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lio_fail
    lea r14, [rip + imp_wh]
    mov rdi, r14                          # a fresh handle: no metadata, no
    xor eax, eax                          # condition, registry entry 0 (no
    mov ecx, WH_SIZE / 8                  # worker runs yet)
    rep stosq
    mov dword ptr [r14 + WH_FD], -1
    mov dword ptr [r14 + WH_FLAGS], WF_NOW
    mov rdi, rbx                          # the record's key: the file's name
    call cstr_len
    mov qword ptr [r14 + WH_KLEN], rax
    mov qword ptr [r14 + WH_KEY], rbx
    mov r13, qword ptr [rip + w_stat + ST_SIZE]
    mov qword ptr [r14 + WH_VLEN], r13
    mov rdi, r14
    xor esi, esi
    xor edx, edx
    call store_put
    test rax, rax
    js .Lio_fail
    jnz 2f                                # (an empty value: whole already)
    xor r15d, r15d                        # bytes copied
1:  mov rdx, r13                          # the value, a window at a time
    sub rdx, r15
    jz 2f
    cmp rdx, SCAN_BUF
    jbe 3f
    mov edx, SCAN_BUF
3:  mov edi, r12d
    lea rsi, [rip + r_buf]
    mov rcx, r15
    call pread_full
    test rax, rax
    js .Lio_abort
    jz .Lio_short                         # the file shrank under us
    add r15, rax
    mov rdi, r14
    lea rsi, [rip + r_buf]
    mov rdx, rax
    call store_append
    test rax, rax
    js .Lio_abort
    jmp 1b
2:  mov edi, r12d
    mov eax, SYS_close
    syscall
    mov rdi, r14
    call store_commit
    test rax, rax
    js .Lio_fail
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lio_short:
    mov rax, -EIO
.Lio_abort:
    push rax
    push rax
    lea rdi, [rip + imp_wh]
    call store_abort
    pop rax
    pop rax
.Lio_fail:
    lea rdi, [rip + err_import]
    mov esi, OFFSET err_import_len
    mov rdx, rbx
    mov ecx, eax
    neg ecx
    call fatal

.section .rodata
err_import:  .ascii "cannot import the one-file-per-key data"
.equ err_import_len, . - err_import
err_foreign: .ascii "the data directory holds something that is not asmkv's (move it away)"
.equ err_foreign_len, . - err_foreign

.bss
.p2align 3
imp_wh:    .space WH_SIZE            # the write of the value being imported
.text
