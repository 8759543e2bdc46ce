# auth.s - access tokens (RFC 6750 bearer tokens).
#
# --token-file PATH: PUT, POST and DELETE need `Authorization: Bearer TOKEN`
# with TOKEN one line of the file. --read-token-file PATH: GET and HEAD
# (listings too) need a token of either file; without it reads stay open.
# Every non-empty line of a file is a token, as it is (a trailing CR is
# dropped). The files are read once, by the master at startup; the workers
# inherit the tokens. A token is compared with every token of the set, each
# over the length of the one presented, so the time taken says nothing of
# how much of a token was right. Tokens are never written anywhere.
.text

# load_tokens: (master, at startup) reads the token files given. Exits 2 with
# one clear line if one cannot be read, is larger than TOKEN_FILE_MAX, holds
# more than TOKENS_MAX tokens, or holds none. Clobbers the caller-saved registers.
.globl load_tokens
load_tokens:
    sub rsp, 8
    mov rdi, qword ptr [rip + cfg_token_file]
    lea rsi, [rip + tok_write]
    call load_token_file
    mov rdi, qword ptr [rip + cfg_read_token_file]
    lea rsi, [rip + tok_read]
    call load_token_file
    add rsp, 8
    ret

# load_token_file: rdi = a path (NUL-terminated) or 0, rsi = a token set.
# Clobbers the caller-saved registers; never returns on failure.
load_token_file:
    test rdi, rdi
    jz 9f
    push rbx
    push r12
    push r13
    mov r12, rdi
    mov rbx, rsi
    mov rsi, rdi
    mov edi, AT_FDCWD
    mov edx, O_RDONLY | O_CLOEXEC
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Llt_errno
    mov r13d, eax
    xor ecx, ecx                          # bytes read
1:  push rcx
    push rcx
    mov edi, r13d
    lea rsi, [rbx + rcx + TS_BUF]
    mov edx, TOKEN_FILE_MAX + 1
    sub edx, ecx                          # one more than fits: to see a file too large
    mov eax, SYS_read
    syscall
    pop rcx
    pop rcx
    cmp rax, -EINTR
    je 1b
    test rax, rax
    js .Llt_errno
    jz 2f
    add ecx, eax
    cmp ecx, TOKEN_FILE_MAX
    ja .Llt_large
    jmp 1b
2:  push rcx
    push rcx
    mov edi, r13d
    mov eax, SYS_close                    # read-only: nothing to lose
    syscall
    pop rcx
    pop rcx
    # lines into tokens: (offset, length) each
    xor esi, esi                          # a line's start
    xor edx, edx                          # position
3:  cmp edx, ecx
    jae 5f
    cmp byte ptr [rbx + rdx + TS_BUF], LF
    je 4f
    inc edx
    jmp 3b
4:  call .Llt_token
    inc edx
    mov esi, edx
    jmp 3b
5:  call .Llt_token                       # a last line without LF
    cmp dword ptr [rbx + TS_N], 0
    je .Llt_empty
    pop r13
    pop r12
    pop rbx
9:  ret
# .Llt_token: the line [esi, edx) of the buffer at rbx becomes a token
# unless it is empty (a CR at its end dropped). Clobbers eax, r8d.
.Llt_token:
    mov eax, edx
    cmp eax, esi
    je 7f
    cmp byte ptr [rbx + rax + TS_BUF - 1], CR
    jne 6f
    dec eax
    cmp eax, esi
    je 7f
6:  mov r8d, dword ptr [rbx + TS_N]
    cmp r8d, TOKENS_MAX
    jae .Llt_many
    mov dword ptr [rbx + r8*8 + TS_TOKENS], esi
    sub eax, esi
    mov dword ptr [rbx + r8*8 + TS_TOKENS + 4], eax
    inc dword ptr [rbx + TS_N]
7:  ret
.Llt_errno:
    lea rdi, [rip + err_token_file]
    mov esi, OFFSET err_token_file_len
    mov rdx, r12
    mov ecx, eax
    neg ecx
    call fatal
.Llt_large:
    lea rdi, [rip + err_token_large]
    mov esi, OFFSET err_token_large_len
    jmp 8f
.Llt_many:
    lea rdi, [rip + err_token_many]
    mov esi, OFFSET err_token_many_len
    jmp 8f
.Llt_empty:
    lea rdi, [rip + err_token_empty]
    mov esi, OFFSET err_token_empty_len
8:  mov rdx, r12
    xor ecx, ecx
    call fatal

# token_in: rdi = a token set, rsi = a token, rdx = its length.
# Returns eax = 1 if it is one of the set, else 0, in a time that depends only
# on its length and the set's size. Clobbers rcx, rdx, rsi, r8-r11.
token_in:
    push rbx
    push r12
    xor eax, eax                          # found
    xor r8d, r8d                          # token index
1:  cmp r8d, dword ptr [rdi + TS_N]
    jae 4f
    mov r9d, dword ptr [rdi + r8*8 + TS_TOKENS]
    lea r9, [rdi + r9 + TS_BUF]           # the set's token
    mov r10d, dword ptr [rdi + r8*8 + TS_TOKENS + 4]
    mov r11, r10
    xor r11, rdx                          # differences: first, of the lengths
    lea r12, [r10 - 1]                    # its last byte (tokens are not empty)
    xor ecx, ecx
2:  cmp rcx, rdx
    jae 3f
    mov rbx, rcx                          # min(i, last): no read past it, no branch
    cmp rbx, r12
    cmova rbx, r12
    movzx ebx, byte ptr [r9 + rbx]
    xor bl, byte ptr [rsi + rcx]
    or r11, rbx
    inc rcx
    jmp 2b
3:  test r11, r11
    setz bl
    movzx ebx, bl
    or eax, ebx
    inc r8d
    jmp 1b
4:  pop r12
    pop rbx
    ret

# check_auth: rdi = conn of a known method (its Authorization field, if any,
# in C_AUTH/C_AUTH_LEN with CD_AUTH; an empty token if there were two or
# more). Returns eax = 0 if the request may go on, or R_401. Clobbers the
# caller-saved registers.
.globl check_auth
check_auth:
    push rbx
    mov rbx, rdi
    mov ecx, dword ptr [rbx + C_METHOD]
    cmp ecx, M_GET
    je 1f
    cmp ecx, M_HEAD
    je 1f
    cmp dword ptr [rip + tok_write + TS_N], 0   # a write: write tokens only
    je .Lca_ok
    test dword ptr [rbx + C_COND], CD_AUTH
    jz .Lca_no
    lea rdi, [rip + tok_write]
    jmp 3f
1:  cmp dword ptr [rip + tok_read + TS_N], 0    # a read: either kind
    je .Lca_ok
    test dword ptr [rbx + C_COND], CD_AUTH
    jz .Lca_no
    lea rdi, [rip + tok_read]
    mov rsi, qword ptr [rbx + C_AUTH]
    mov rdx, qword ptr [rbx + C_AUTH_LEN]
    call token_in
    test eax, eax
    jnz .Lca_ok
    lea rdi, [rip + tok_write]
3:  mov rsi, qword ptr [rbx + C_AUTH]
    mov rdx, qword ptr [rbx + C_AUTH_LEN]
    call token_in
    test eax, eax
    jnz .Lca_ok
.Lca_no:
    mov eax, R_401
    pop rbx
    ret
.Lca_ok:
    xor eax, eax
    pop rbx
    ret

.section .rodata
err_token_file:  .ascii "cannot read token file"
.equ err_token_file_len, . - err_token_file
err_token_large: .ascii "token file larger than 64 KiB"
.equ err_token_large_len, . - err_token_large
err_token_many:  .ascii "token file has more than 1024 tokens"
.equ err_token_many_len, . - err_token_many
err_token_empty: .ascii "token file has no token (one per line)"
.equ err_token_empty_len, . - err_token_empty

.bss
.p2align 3
tok_write: .space TS_SIZE                 # --token-file
tok_read:  .space TS_SIZE                 # --read-token-file
.text
