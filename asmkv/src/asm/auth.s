# auth.s - access tokens (RFC 6750 bearer tokens).
#
# --token-file PATH: PUT, POST and DELETE need `Authorization: Bearer TOKEN`
# with TOKEN one line of the file. --read-token-file PATH: GET and HEAD
# (listings too) need a token of either file; without it reads stay open.
# Every non-empty line of a file is a token, as it is (a trailing CR is
# dropped). The files are read once, by the master at startup, which then
# draws a random key (tok_key) and keeps the SipHash-2-4 of each token under
# it (TS_HASHES); the workers inherit both. A presented token is hashed once;
# its hash is compared with every stored hash without a branch on the
# outcome, and the one token whose hash and length match is compared byte
# for byte over the presented length. So a request costs one pass over its
# token plus one compare per stored token, and the time taken says nothing
# of how much of a token was right. Tokens are never written anywhere.
.text

# load_tokens: (master, at startup) reads the token files given, then draws
# tok_key and hashes every token with it (hash_tokens). Exits 2 with one clear
# line if a file cannot be read, is larger than TOKEN_FILE_MAX, holds more
# than TOKENS_MAX tokens, or holds none, or if no random key can be drawn.
# Clobbers the caller-saved registers.
.globl load_tokens
load_tokens:
    push rbx
    push r12
    sub rsp, 8
    mov rdi, qword ptr [rip + cfg_token_file]
    lea rsi, [rip + tok_write]
    call load_token_file
    mov rdi, qword ptr [rip + cfg_read_token_file]
    lea rsi, [rip + tok_read]
    call load_token_file
    mov eax, dword ptr [rip + tok_write + TS_N]
    or eax, dword ptr [rip + tok_read + TS_N]
    jz 9f                                 # no tokens: no key to draw
    mov ebx, TOK_KEY_TRIES
1:  call draw_key
    lea rdi, [rip + tok_write]
    call hash_tokens
    mov r12d, eax
    lea rdi, [rip + tok_read]
    call hash_tokens
    or eax, r12d
    jz 9f
    dec ebx                               # a pair collides (2^-64 each): another key
    jnz 1b
    lea rdi, [rip + err_token_collide]
    mov esi, OFFSET err_token_collide_len
    xor edx, edx
    xor ecx, ecx
    call fatal
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# draw_key: (master) fills tok_key with TOK_KEY_SIZE random bytes (getrandom,
# which waits until the kernel's pool is ready, once after boot). Exits 2 with
# one clear line if it cannot. Clobbers the caller-saved registers.
draw_key:
    sub rsp, 8
    lea rdi, [rip + tok_key]
    mov esi, TOK_KEY_SIZE
    call random_fill
    test rax, rax
    js 2f
    add rsp, 8
    ret
2:  lea rdi, [rip + err_token_key]
    mov esi, OFFSET err_token_key_len
    xor edx, edx
    mov ecx, eax
    neg ecx
    call fatal

# hash_tokens: rdi = a token set. Sets TS_HASHES to each token's siphash24
# under tok_key. Returns eax = 1 if two tokens of the set that differ have the
# same hash and length (token_in relies on there being none), else 0.
# Clobbers the caller-saved registers.
hash_tokens:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    xor r12d, r12d                        # token index
1:  cmp r12d, dword ptr [rbx + TS_N]
    jae 2f
    lea rdi, [rip + tok_key]
    mov esi, dword ptr [rbx + r12*8 + TS_TOKENS]
    lea rsi, [rbx + rsi + TS_BUF]
    mov edx, dword ptr [rbx + r12*8 + TS_TOKENS + 4]
    call siphash24
    mov qword ptr [rbx + r12*8 + TS_HASHES], rax
    inc r12d
    jmp 1b
2:  xor r12d, r12d                        # every pair i < j: at most TOKENS_MAX^2 / 2, once
3:  cmp r12d, dword ptr [rbx + TS_N]
    jae 7f
    lea r13d, [r12 + 1]
4:  cmp r13d, dword ptr [rbx + TS_N]
    jae 6f
    mov rax, qword ptr [rbx + r12*8 + TS_HASHES]
    cmp rax, qword ptr [rbx + r13*8 + TS_HASHES]
    jne 5f
    mov ecx, dword ptr [rbx + r12*8 + TS_TOKENS + 4]
    cmp ecx, dword ptr [rbx + r13*8 + TS_TOKENS + 4]
    jne 5f
    mov esi, dword ptr [rbx + r12*8 + TS_TOKENS]
    lea rsi, [rbx + rsi + TS_BUF]
    mov edi, dword ptr [rbx + r13*8 + TS_TOKENS]
    lea rdi, [rbx + rdi + TS_BUF]
    repe cmpsb                            # a token twice in a file is no collision
    jne 8f
5:  inc r13d
    jmp 4b
6:  inc r12d
    jmp 3b
7:  xor eax, eax
    jmp 9f
8:  mov eax, 1
9:  pop r13
    pop r12
    pop rbx
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

# token_in: rdi = a token set, rsi = a token, rdx = its length, rcx = its
# siphash24 under tok_key. Returns eax = 1 if it is one of the set, else 0.
# Every stored hash and length is compared with no branch on the outcome;
# then the token whose hash and length matched (at most one: hash_tokens
# made sure), or token 0 if none did, is compared byte for byte over the
# presented length, reading none of its bytes past its last. The time
# depends only on the length and the set's size. Clobbers rcx, rdx, rsi,
# r8-r11.
token_in:
    xor eax, eax
    mov r8d, dword ptr [rdi + TS_N]
    test r8d, r8d
    jz 9f                                 # no tokens (a write set beside read tokens)
    push rbx
    push r12
    xor r9d, r9d                          # token index
    xor r10d, r10d                        # the candidate
    xor r11d, r11d                        # a hash and length matched
1:  mov ebx, dword ptr [rdi + r9*8 + TS_TOKENS + 4]
    xor rbx, rdx
    mov r12, qword ptr [rdi + r9*8 + TS_HASHES]
    xor r12, rcx
    or rbx, r12                           # 0 if both are equal
    cmp rbx, 1                            # CF then
    cmovb r10d, r9d
    setb bl
    or r11b, bl
    inc r9d
    cmp r9d, r8d
    jb 1b
    mov r9d, dword ptr [rdi + r10*8 + TS_TOKENS]
    lea r9, [rdi + r9 + TS_BUF]           # the candidate's bytes
    mov r8d, dword ptr [rdi + r10*8 + TS_TOKENS + 4]
    lea r12, [r8 - 1]                     # its last byte (tokens are not empty)
    xor r8, rdx                           # differences: first, of the lengths
    xor ecx, ecx
2:  cmp rcx, rdx
    jae 3f
    mov rbx, rcx                          # min(i, last): no read past it, no branch
    cmp rbx, r12
    cmova rbx, r12
    movzx ebx, byte ptr [r9 + rbx]
    xor bl, byte ptr [rsi + rcx]
    or r8, rbx
    inc rcx
    jmp 2b
3:  test r8, r8                           # a hash collision alone admits nothing
    setz al
    and al, r11b
    pop r12
    pop rbx
9:  ret

# check_auth: rdi = conn of a known method (its Authorization field, if any,
# in C_AUTH/C_AUTH_LEN with CD_AUTH; an empty token if there were two or
# more). Returns eax = 0 if the request may go on, or R_401. The token is
# hashed once, for both sets of a read. Clobbers the caller-saved registers.
.globl check_auth
check_auth:
    xor esi, esi
    mov ecx, dword ptr [rdi + C_METHOD]
    cmp ecx, M_GET
    je 1f
    cmp ecx, M_HEAD
    jne check_auth_as
1:  mov esi, 1
    jmp check_auth_as

# check_auth_admin: rdi = conn asking for the whole store (a backup): it
# needs a write token if write tokens are configured, else a token of either
# file if read tokens are, else nothing. Returns eax = 0 or R_401.
# Clobbers the caller-saved registers.
.globl check_auth_admin
check_auth_admin:
    xor esi, esi
    cmp dword ptr [rip + tok_write + TS_N], 0
    jne check_auth_as
    inc esi
    jmp check_auth_as

# check_auth_as: rdi = conn (as for check_auth), esi = 1 to check it as a
# read, 0 as a write, whatever its method. Returns eax = 0 or R_401.
# Clobbers the caller-saved registers.
check_auth_as:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    xor r13d, r13d                        # 1: a read, which a write token allows too
    test esi, esi
    jnz 1f
    cmp dword ptr [rip + tok_write + TS_N], 0   # a write: write tokens only
    je .Lca_ok
    jmp 2f
1:  cmp dword ptr [rip + tok_read + TS_N], 0    # a read: either kind
    je .Lca_ok
    mov r13d, 1
2:  test dword ptr [rbx + C_COND], CD_AUTH
    jz .Lca_no
    lea rdi, [rip + tok_key]
    mov rsi, qword ptr [rbx + C_AUTH]
    mov rdx, qword ptr [rbx + C_AUTH_LEN]
    call siphash24
    mov r12, rax
    test r13d, r13d
    jz 3f
    lea rdi, [rip + tok_read]
    mov rsi, qword ptr [rbx + C_AUTH]
    mov rdx, qword ptr [rbx + C_AUTH_LEN]
    mov rcx, r12
    call token_in
    test eax, eax
    jnz .Lca_ok
3:  lea rdi, [rip + tok_write]
    mov rsi, qword ptr [rbx + C_AUTH]
    mov rdx, qword ptr [rbx + C_AUTH_LEN]
    mov rcx, r12
    call token_in
    test eax, eax
    jnz .Lca_ok
.Lca_no:
    mov eax, R_401
    jmp 9f
.Lca_ok:
    xor eax, eax
9:  pop r13
    pop r12
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
err_token_key:   .ascii "cannot draw a random key for the tokens (getrandom)"
.equ err_token_key_len, . - err_token_key
err_token_collide: .ascii "token hashes collide under every key drawn"
.equ err_token_collide_len, . - err_token_collide

.bss
.p2align 3
tok_write: .space TS_SIZE                 # --token-file
tok_read:  .space TS_SIZE                 # --read-token-file
tok_key:   .space TOK_KEY_SIZE            # siphash24's key for both sets (draw_key)
.text
