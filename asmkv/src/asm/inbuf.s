# inbuf.s - the worker's pool of input buffers.
#
# A connection needs its IN_CAP-byte input buffer only while a request is
# being read or answered. Idle keep-alive connections (most of them, under
# many clients) give it back, so their cost is the small connection slot. The
# pool hands out the most recently returned buffer first: its pages are the
# ones already resident and cached. The buffers live in one reserved mapping
# of MAX_FDS * IN_CAP bytes; a buffer is never touched until lent, and at most
# one per open connection is lent, so the mapping cannot run out.
.text

# inbuf_init: reserves the buffer mapping. Returns rax = 0 or -errno.
# Clobbers rcx, rdx, rsi, rdi, r8, r9, r10, r11.
.globl inbuf_init
inbuf_init:
    mov rdi, MAX_FDS * IN_CAP             # buffers come into memory as they are lent
    call reserve_memory
    cmp rax, -4096
    ja 1f
    mov qword ptr [rip + in_base], rax
    xor eax, eax
1:  ret

# inbuf_get: rdi = conn. Lends the connection an input buffer unless it holds one.
# Returns rax = the buffer's address. Clobbers rcx, rdx.
.globl inbuf_get
inbuf_get:
    mov rax, qword ptr [rdi + C_IN_BUF]
    test rax, rax
    jnz 3f
    mov ecx, dword ptr [rip + in_free_n]
    test ecx, ecx
    jz 1f
    dec ecx
    mov dword ptr [rip + in_free_n], ecx
    lea rdx, [rip + in_free]
    mov eax, dword ptr [rdx + rcx*4]
    jmp 2f
1:  mov eax, dword ptr [rip + in_fresh]   # none returned yet: a new one
    inc dword ptr [rip + in_fresh]
2:  shl rax, IN_SHIFT
    add rax, qword ptr [rip + in_base]
    mov qword ptr [rdi + C_IN_BUF], rax
3:  ret

# inbuf_put: rdi = conn. Returns its input buffer, if it holds one, to the
# pool; whatever input it held is dropped (C_IN_LEN = C_IN_POS = 0).
# Clobbers rax, rcx, rdx.
.globl inbuf_put
inbuf_put:
    xor eax, eax
    mov qword ptr [rdi + C_IN_LEN], rax
    mov qword ptr [rdi + C_IN_POS], rax
    mov rax, qword ptr [rdi + C_IN_BUF]
    test rax, rax
    jz 1f
    mov qword ptr [rdi + C_IN_BUF], 0
    sub rax, qword ptr [rip + in_base]
    shr rax, IN_SHIFT
    mov ecx, dword ptr [rip + in_free_n]
    lea rdx, [rip + in_free]
    mov dword ptr [rdx + rcx*4], eax
    inc ecx
    mov dword ptr [rip + in_free_n], ecx
1:  ret

.bss
.p2align 3
in_base:    .space 8            # the buffer mapping
in_free_n:  .space 4            # entries in in_free
in_fresh:   .space 4            # buffers ever lent; the next new one's index
in_free:    .space MAX_FDS * 4  # indexes of returned buffers, a stack
.text
