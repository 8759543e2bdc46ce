# backup.s - online backup: GET /backup on the metrics socket answers a tar
# stream of the store's segments and hints while the server goes on serving
# and writing. Unpacked into an empty directory, it is a data directory.
#
# A backup, in the worker that takes the request:
#   1. claims the one hold (RC_BK_HOLD, a cmpxchg from 0: one backup at a
#      time), first over every segment id, so compaction removes nothing from
#      then on (compact.s checks the hold before it takes a segment, and again
#      just before it removes one);
#   2. narrows the hold to the segments up to the last id handed out by then
#      (IX_SEGID); every process that finds its active segment held lets go
#      of it (backup_let_go: a worker at its next tick, the compactor before it
#      next copies), so those segments take no new record;
#   3. waits, driven by its worker's tick, until no process appends to a
#      held segment (IX_ACTIVE; seg_open_new names a segment there before it
#      takes its id) and none has records still open (SG_BUSY), BK_WAIT
#      seconds at most, else answers 503: a record being written while it is
#      sent could make a restore see damage;
#   4. answers 200 and sends each held segment not removed, then its hint if
#      it has one, as they are then: none of them changes any more. Once a
#      segment is sent the hold lets it go (RC_BK_FROM), so a slow reader
#      holds back only the segments still to send.
# Every write acknowledged before the request was in a segment that existed
# at step 2, sealed, so it is in the stream. A compaction that removed a
# segment after its records were copied did so before step 1, and it had
# made the segment it copied them into before that (so by step 3). A process
# killed at any instruction holds nothing: the master clears a reaped child's
# hold and active segment (index_forget), its successor does too.
.text

# backup_begin: rdi = conn, GET /backup on the metrics socket. Checks the
# token (check_auth_admin), claims the hold and starts the wait (steps 1-4
# above: ST_BACKUP); answers 401, or 503 if a backup is running or there is
# no memory. Clobbers the caller-saved registers.
.globl backup_begin
backup_begin:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    call check_auth_admin
    mov esi, eax
    test eax, eax
    jnz 9f
    mov esi, R_505_BACKUP                 # its end must be known: chunked alone
    test dword ptr [rbx + C_FLAGS], F_HTTP10  # tells a cut stream from a whole one
    jnz 9f
    call list_state                       # its output buffer and its fields
    mov esi, R_503
    cmp rax, -4096
    ja 9f
    mov r12, rax
    mov rcx, qword ptr [rip + ix_base]
    mov edx, dword ptr [rip + w_slot]
    inc edx
    shl rdx, 32
    or rdx, SEG_ID_MAX                    # every segment, until the last id is known
    xor eax, eax                          # (from the first: a running backup's is
    xchg qword ptr [rcx + IX_RECLAIM + RC_BK_FROM], rax  # lowered, which holds more)
    xor eax, eax
    lock cmpxchg qword ptr [rcx + IX_RECLAIM + RC_BK_HOLD], rdx
    jne 8f                                # another backup is running
    mov rax, qword ptr [rcx + IX_SEGID]   # read after the claim: a segment made
    cmp rax, SEG_ID_MAX                   # before it is at or below this
    jbe 1f
    mov eax, SEG_ID_MAX
1:  mov qword ptr [r12 + LS_BK_HOLD], rax
    shr rdx, 32
    shl rdx, 32
    or rdx, rax
    mov qword ptr [rcx + IX_RECLAIM + RC_BK_HOLD], rdx   # (ours: only we write it)
    mov qword ptr [r12 + LS_BK_ID], 1
    mov dword ptr [r12 + LS_PHASE], LP_BACKUP
    mov rax, qword ptr [rip + w_now]
    add rax, BK_WAIT
    mov qword ptr [r12 + LS_BK_UNTIL], rax
    mov rdi, rbx
    mov rsi, r12
    call list_attach
    or dword ptr [rbx + C_FLAGS], F_BACKUP
    mov qword ptr [rip + w_bk_conn], rbx
    mov dword ptr [rbx + C_STATE], ST_BACKUP
    mov rdi, rbx                          # waiting is no stall of the client's
    mov rsi, qword ptr [rip + cfg_io_timeout]
    add rsi, BK_WAIT
    call set_deadline
    add rsp, 8
    pop r12
    pop rbx
    ret
8:  mov rdi, r12
    call list_state_free
    mov esi, R_503
9:  mov rdi, rbx
    add rsp, 8
    pop r12
    pop rbx
    jmp respond

# backup_step: rdi = conn in ST_BACKUP. Answers 200 and goes on to send the
# stream (ST_LIST) once its segments have settled (step 4 above), or 503 if a
# process still appends to one after BK_WAIT seconds; else waits for the
# next tick (backup_tick drives it). Returns eax = STEP_*.
# Clobbers the caller-saved registers.
.globl backup_step
backup_step:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    mov rax, qword ptr [rip + w_now]      # once a second at most: any socket event
    inc rax                               # drives it too, and the look is a walk
    cmp rax, qword ptr [r12 + LS_BK_SEEN] # of the held segments' counts
    je 3f
    mov qword ptr [r12 + LS_BK_SEEN], rax
    mov rdi, qword ptr [r12 + LS_BK_HOLD]
    call bk_settled
    test eax, eax
    jz 2f
    mov rcx, qword ptr [rip + w_now]
    cmp rcx, qword ptr [r12 + LS_BK_UNTIL]
    jbe 3f
    mov rdi, rbx                          # still appended to, or records open (a long
    call backup_release                   # upload, or one a killed writer left): no
    mov rdi, rbx                          # stream that could be torn
    call list_free
    mov rdi, rbx
    mov esi, R_503
    call respond
    jmp 4f
2:  mov rdi, rbx
    mov esi, ST_LIST
    lea rdx, [rip + hdr_tar]
    mov ecx, OFFSET hdr_tar_len
    call respond_generated
4:  mov eax, STEP_GO
    jmp 5f
3:  mov eax, STEP_WAIT
5:  add rsp, 8
    pop r12
    pop rbx
    ret

# bk_settled: rdi = the last segment id held. Returns eax = 0 if no process
# appends to a held segment and none has records open in one, 1 if none
# appends but records are open, 2 if one still appends (or is about to:
# seg_open_new). The active segments
# are read before the counts, as seg_sealed does (and for its reason).
# Clobbers rcx, rdx, rsi, r8.
bk_settled:
    mov rdx, qword ptr [rip + ix_base]
    xor ecx, ecx
1:  mov rax, qword ptr [rdx + IX_ACTIVE + rcx*8]
    test rax, rax
    jz 2f
    cmp rax, rdi
    jbe 6f
2:  inc ecx
    cmp ecx, MAX_CHILDREN
    jb 1b
    lea rsi, [rdx + IX_SEGS]
    mov r8d, 1
3:  cmp r8, rdi
    ja 5f
    mov rax, r8
    shl rax, SG_SHIFT
    test dword ptr [rsi + rax + SG_FLAGS], SGF_GONE
    jnz 4f
    cmp dword ptr [rsi + rax + SG_BUSY], 0
    jne 7f
4:  inc r8
    jmp 3b
5:  xor eax, eax
    ret
6:  mov eax, 2
    ret
7:  mov eax, 1
    ret

# backup_make: rdi = conn sending a backup (ST_LIST, LP_BACKUP), whose last
# output is sent. Makes the next piece: after a file's header, the file
# itself (sent by write_step with sendfile: ST_WRITE, then back to ST_LIST);
# else the next file's header (with the previous file's padding and, when
# chunked, the chunk framing around both), or the archive's end (two zero
# blocks; the hold is let go). Returns rax = 0, or -errno (the stream cannot
# go on: the caller closes it, and a client sees it cut short).
# Clobbers the caller-saved registers.
.globl backup_make
backup_make:
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, HINT_NAME_CAP + 8            # (calls aligned)
    mov rbx, rdi
    mov r12, qword ptr [rbx + C_LIST]
    mov rax, qword ptr [r12 + LS_BK_SIZE]
    test rax, rax
    jz 1f
    mov qword ptr [rbx + C_FILE_LEFT], rax    # the file, after its header
    mov qword ptr [r12 + LS_BK_SIZE], 0
    neg eax
    and eax, TAR_BLOCK - 1
    mov dword ptr [r12 + LS_BK_PAD], eax
    mov dword ptr [r12 + LS_BK_OPEN], 1
    mov eax, dword ptr [r12 + LS_BK_FD]
    mov dword ptr [rbx + C_GET_FD], eax
    xor eax, eax
    mov qword ptr [rbx + C_FILE_OFF], rax
    mov qword ptr [rbx + C_OUT_LEN], rax
    mov qword ptr [rbx + C_OUT_POS], rax
    mov dword ptr [rbx + C_NEXT], ST_LIST
    mov dword ptr [rbx + C_STATE], ST_WRITE
    jmp .Lbm_out
1:  mov rdi, r12
    call bk_close_hint                    # the last one is sent
    lea r13, [r12 + LS_OUT]               # where the output goes
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED
    jz .Lbm_step
    cmp dword ptr [r12 + LS_BK_OPEN], 0
    je .Lbm_step
    mov dword ptr [r12 + LS_BK_OPEN], 0
    mov word ptr [r13], 0x0a0d            # the end of the last file's chunk
    add r13, 2
.Lbm_step:
    mov dword ptr [rsp + HINT_NAME_CAP], BK_IDS_A_STEP  # ids to look at, at most
.Lbm_next:
    mov r14, qword ptr [r12 + LS_BK_ID]
    cmp r14, qword ptr [r12 + LS_BK_HOLD]
    ja .Lbm_end
    dec dword ptr [rsp + HINT_NAME_CAP]   # a long run of removed ids: the rest at
    js .Lbm_len                           # the next step (list_step yields)
    cmp dword ptr [r12 + LS_BK_KIND], 0
    jne 3f
    mov rcx, qword ptr [rip + ix_base]    # the segments below this one are sent:
    mov qword ptr [rcx + IX_RECLAIM + RC_BK_FROM], r14  # they need no hold
    mov rdi, r14                          # the segment: skipped if removed
    call seg_entry
    test dword ptr [rax + SG_FLAGS], SGF_GONE
    jnz 2f
    mov rdi, r14
    call seg_fd                           # (the process's: kept open)
    cmp rax, -ENOENT                      # removed before the hold: its records
    je 2f                                 # are in a segment made before it
    test rax, rax
    js .Lbm_out
    mov r15d, eax
    mov dword ptr [r12 + LS_BK_KIND], 1   # its hint next
    mov rdi, rsp
    mov rsi, r14
    call seg_name
    jmp 4f
2:  inc qword ptr [r12 + LS_BK_ID]
    jmp .Lbm_next
3:  mov dword ptr [r12 + LS_BK_KIND], 0   # its hint, if it has one, then the next
    inc qword ptr [r12 + LS_BK_ID]
    mov rdi, rsp
    mov rsi, r14
    call hint_open
    cmp rax, -ENOENT
    je .Lbm_next
    test rax, rax
    js .Lbm_out
    mov r15d, eax
    inc eax
    mov dword ptr [r12 + LS_BK_HFD], eax  # closed once sent (bk_close_hint)
4:  mov edi, r15d
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lbm_out
    mov r14, qword ptr [rip + w_stat + ST_SIZE]
    test r14, r14
    jnz 5f
    mov rdi, r12                          # empty: nothing to restore
    call bk_close_hint
    jmp .Lbm_next
5:  mov dword ptr [r12 + LS_BK_FD], r15d
    mov qword ptr [r12 + LS_BK_SIZE], r14
    mov rdi, r12                          # the last file's padding and this header:
    mov rsi, r13                          # one chunk
    mov edx, TAR_BLOCK
    call bk_zeros
    mov r13, rax
    mov rdi, rsp
    call cstr_len
    mov rdi, r13
    mov rsi, rsp
    mov rdx, rax
    mov rcx, r14
    call tar_header
    lea r13, [r13 + TAR_BLOCK]
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED
    jz .Lbm_len
    mov word ptr [r13], 0x0a0d
    lea rdi, [r13 + 2]                    # the file's own chunk begins
    mov rsi, r14
    call put_chunk_line
    mov r13, rax
    jmp .Lbm_len
.Lbm_end:
    mov rdi, r12                          # the padding and two zero blocks end it
    mov rsi, r13
    mov edx, 2 * TAR_BLOCK
    call bk_zeros
    lea r13, [rax + 2 * TAR_BLOCK]
    test dword ptr [r12 + LS_FLAGS], LF_CHUNKED
    jz 6f
    mov dword ptr [r13], 0x0d300a0d       # CRLF "0" CRLF CRLF: the last chunk
    mov dword ptr [r13 + 3], 0x0a0d0a0d
    add r13, 7
6:  mov dword ptr [r12 + LS_PHASE], LP_END
    mov rdi, rbx
    call backup_release
.Lbm_len:
    lea rax, [r12 + LS_OUT]
    sub r13, rax
    mov qword ptr [r12 + LS_OUT_LEN], r13
    xor eax, eax
.Lbm_out:
    add rsp, HINT_NAME_CAP + 8
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

# bk_zeros: rdi = a backup's state, rsi = where output goes, edx = bytes to
# follow (a header, or the archive's end). Writes the zeros owed to the last
# file's block (LS_BK_PAD, then 0), then edx bytes of zeros, the whole as
# one chunk when chunked (its line first). Returns rax = the end of the zeros
# owed, where the edx bytes go (they are zeroed). Clobbers rcx, rdx, rsi,
# rdi, r8, r9.
bk_zeros:
    push rbx
    mov ebx, dword ptr [rdi + LS_BK_PAD]
    mov dword ptr [rdi + LS_BK_PAD], 0
    lea r8, [rbx + rdx]                   # the chunk's length
    test dword ptr [rdi + LS_FLAGS], LF_CHUNKED
    mov rdi, rsi
    jz 1f
    mov rsi, r8
    push r8
    call put_chunk_line
    pop r8
    mov rdi, rax
1:  mov rcx, r8
    xor eax, eax
    mov rdx, rdi
    rep stosb
    lea rax, [rdx + rbx]
    pop rbx
    ret

# put_chunk_line: rdi = where, rsi = a chunk's length (not 0). Writes it in
# hex and CRLF. Returns rax = the end. Clobbers rcx, rdx, rsi, rdi.
put_chunk_line:
    mov ecx, 60                           # the highest non-zero digit first
1:  mov rax, rsi
    shr rax, cl
    test eax, 15
    jnz 2f
    sub ecx, 4
    jnz 1b
2:  lea rdx, [rip + hex_upper]
3:  mov rax, rsi
    shr rax, cl
    and eax, 15
    movzx eax, byte ptr [rdx + rax]
    mov byte ptr [rdi], al
    inc rdi
    sub ecx, 4
    jns 3b
    mov word ptr [rdi], 0x0a0d
    lea rax, [rdi + 2]
    ret

# tar_header: rdi = TAR_BLOCK bytes of zeros, rsi = a file's name, rdx = its
# length (under 100), rcx = its size. Writes a ustar header for a regular
# file of mode 0644 (owner 0, the time of the last tick). A size of
# TAR_SIZE_MAX or more is written in base 256 (GNU tar, bsdtar and
# Python's tarfile read it). Clobbers rax, rcx, rdx, rsi, r8, r9.
tar_header:
    push rbx
    push r12
    mov rbx, rdi
    mov r12, rcx
    call copy                             # the name, at 0
    mov rsi, 0x0034343630303030           # "0000644" NUL: the mode, at 100
    mov qword ptr [rbx + 100], rsi
    mov rsi, 0x0030303030303030           # "0000000" NUL: owner and group
    mov qword ptr [rbx + 108], rsi
    mov qword ptr [rbx + 116], rsi
    lea rdi, [rbx + 124]                  # the size: 11 octal digits and NUL
    mov rsi, r12
    mov edx, 11
    mov rax, TAR_SIZE_MAX
    cmp r12, rax
    jb 1f
    mov byte ptr [rbx + 124], 0x80        # base 256: the size, big-endian, in the
    bswap r12                             # last 8 of its 12 bytes
    mov qword ptr [rbx + 128], r12
    jmp 2f
1:  call put_octal
2:  lea rdi, [rbx + 136]                  # the time
    mov rsi, qword ptr [rip + w_unix]
    mov edx, 11
    call put_octal
    mov rax, 0x2020202020202020           # the checksum counts itself as spaces
    mov qword ptr [rbx + 148], rax
    mov byte ptr [rbx + 156], '0'         # a regular file
    mov dword ptr [rbx + 257], 0x61747375 # "ustar" NUL "00"
    mov dword ptr [rbx + 261], 0x30300072
    xor esi, esi
    xor ecx, ecx
3:  movzx eax, byte ptr [rbx + rcx]
    add esi, eax
    inc ecx
    cmp ecx, TAR_BLOCK
    jb 3b
    lea rdi, [rbx + 148]                  # six octal digits, NUL, space
    mov edx, 6
    call put_octal                        # (its NUL at 154; 155 stays a space)
    pop r12
    pop rbx
    ret

# put_octal: rdi = where, rsi = value, edx = digits. Writes the value in
# octal, that many digits with leading zeros, then NUL (a value too large
# keeps its low digits). Clobbers rax, rdx, rsi.
put_octal:
    mov byte ptr [rdi + rdx], 0
1:  dec edx
    js 2f
    mov eax, esi
    and eax, 7
    add eax, '0'
    mov byte ptr [rdi + rdx], al
    shr rsi, 3
    jmp 1b
2:  ret

# bk_close_hint: rdi = a backup's state. Closes the hint file it opened to
# send, if any. Clobbers rax, rcx, rdi, r11.
bk_close_hint:
    mov eax, dword ptr [rdi + LS_BK_HFD]
    test eax, eax
    jz 1f
    mov dword ptr [rdi + LS_BK_HFD], 0
    lea edi, [rax - 1]
    mov eax, SYS_close                    # read-only: close cannot lose data
    syscall
1:  ret

# backup_release: rdi = conn. If it is this worker's backup (F_BACKUP), lets
# its hold go (compaction may remove the segments again) and closes what it
# has open; its state (C_LIST) stays for the caller to give back.
# Clobbers rax, rcx, rdi, r11.
.globl backup_release
backup_release:
    test dword ptr [rdi + C_FLAGS], F_BACKUP
    jz 1f
    and dword ptr [rdi + C_FLAGS], ~F_BACKUP
    mov qword ptr [rip + w_bk_conn], 0
    mov rax, qword ptr [rip + ix_base]
    mov qword ptr [rax + IX_RECLAIM + RC_BK_HOLD], 0
    mov rdi, qword ptr [rdi + C_LIST]
    jmp bk_close_hint
1:  ret

# backup_let_go: (every child) if a backup holds its active segment (the
# one IX_ACTIVE names for it), lets go of it, so the next record it writes
# starts a new one: a worker seals it (seg_seal), the compactor only stops
# appending to it; a name left there with no segment behind it (a failed
# seg_open_new) is cleared. Clobbers the caller-saved registers.
.globl backup_let_go
backup_let_go:
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rcx + IX_RECLAIM + RC_BK_HOLD]
    test rax, rax
    jz 2f
    mov edx, dword ptr [rip + w_slot]
    mov rsi, qword ptr [rcx + IX_ACTIVE + rdx*8]
    test rsi, rsi
    jz 2f
    mov eax, eax                          # the last id held
    cmp rsi, rax
    ja 2f
    cmp qword ptr [rip + w_seg_id], 0
    je 1f
    cmp edx, dword ptr [rip + cfg_workers]
    jne seg_seal                          # a worker
    mov qword ptr [rip + w_seg_id], 0     # the compactor (its copies are counted
1:  mov qword ptr [rcx + IX_ACTIVE + rdx*8], 0   # as they land: no trim)
2:  ret

# backup_tick: (worker, every tick) lets go of the active segment if a backup
# began (backup_let_go), and drives this worker's backup while it waits.
# Clobbers the caller-saved registers.
.globl backup_tick
backup_tick:
    sub rsp, 8
    call backup_let_go
    mov rdi, qword ptr [rip + w_bk_conn]
    test rdi, rdi
    jz 1f
    cmp dword ptr [rdi + C_STATE], ST_BACKUP
    jne 1f
    call conn_drive
1:  add rsp, 8
    ret

# backup_forget: rdi = the index's first page, rsi = its reclamation page
# (IX_RECLAIM), edx = a child's slot whose process is gone (or has just
# started in it). Nothing of it appends any more, and its backup, if it had
# one, is over: clears its active segment and its hold. Clobbers rax, rcx.
.globl backup_forget
backup_forget:
    mov qword ptr [rdi + IX_ACTIVE + rdx*8], 0
    mov rax, qword ptr [rsi + RC_BK_HOLD]
    shr rax, 32
    lea ecx, [rdx + 1]
    cmp eax, ecx
    jne 1f
    mov qword ptr [rsi + RC_BK_HOLD], 0   # (its owner is gone: no one else writes it
1:  ret                                   # until it is 0)

# backup_forget_own: (child, as it starts) clears what a process killed in
# its slot left (backup_forget): the master does too, but only at its best.
# Clobbers rax, rcx, rdx, rsi, rdi.
.globl backup_forget_own
backup_forget_own:
    mov rdi, qword ptr [rip + ix_base]
    lea rsi, [rdi + IX_RECLAIM]
    mov edx, dword ptr [rip + w_slot]
    jmp backup_forget

# bk_held: rdi = a segment id. Returns eax = 1 if a backup holds it (it is
# not sent yet, RC_BK_FROM, and at most the last id held): it must not be
# removed. The hold is read first: a claim lowers RC_BK_FROM before it, so
# a FROM read after a hold seen is that backup's or lower. Clobbers rcx.
.globl bk_held
bk_held:
    mov rcx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rcx + IX_RECLAIM + RC_BK_HOLD]
    test rax, rax
    jz 1f
    cmp rdi, qword ptr [rcx + IX_RECLAIM + RC_BK_FROM]
    jb 2f
    mov eax, eax
    cmp rdi, rax
    setbe al
    movzx eax, al
    ret
2:  xor eax, eax
1:  ret

.section .rodata
hdr_tar: .ascii "Content-Type: application/x-tar\r\nCache-Control: no-store\r\n"
.equ hdr_tar_len, . - hdr_tar

.bss
.p2align 3
w_bk_conn: .space 8                       # (worker) the connection of its backup, 0 if none
.text
