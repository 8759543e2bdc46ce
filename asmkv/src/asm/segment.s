# segment.s - the segment files and the records in them.
#
# Values live in append-only segment files "ID.seg" in the data directory
# (ID: decimal, from a counter in the shared index, never reused). Each worker
# appends to its own active segment, so workers never contend for a file; the
# record layout (REC_*, FT_*) is in defs.s. A record is reserved first (its
# place and length fixed), written by one or more pwrite calls, and sealed by
# its footer, which carries its sequence number and the CRC of its value.
#
# With --sync always the active segment is extended ahead of its records with
# written zeros (SEG_STEP at a time), so the writes of a group land on blocks
# that are already allocated and the group's fdatasync flushes data only, not
# a journal commit for the file's size and extents.
#
# Each process keeps one descriptor per segment it has touched (w_segfds), so
# a GET reads without an open; descriptors are never closed while it runs.
.text

# seg_name: rdi = buffer (SEG_NAME_CAP bytes), rsi = segment id.
# Writes "ID.seg", NUL-terminated. Clobbers rax, rcx, rdx, rdi, r8, r9.
.globl seg_name
seg_name:
    call fmt_u64
    mov dword ptr [rax], 0x6765732e       # ".seg"
    mov byte ptr [rax + 4], 0
    ret

# seg_stat: rdi = a buffer (SEG_NAME_CAP bytes), rsi = a segment id. Stats
# its file by name (left in the buffer) into w_stat, not following a link.
# Returns rax = 0 or -errno (-ENOENT: there is none). Clobbers the
# caller-saved registers.
.globl seg_stat
seg_stat:
    push rdi
    call seg_name
    mov edi, dword ptr [rip + dir_fd]
    pop rsi
    lea rdx, [rip + w_stat]
    mov r10d, AT_SYMLINK_NOFOLLOW
    mov eax, SYS_newfstatat
    syscall
    ret

# parse_seg_id: rdi = the digits of a file's name before its suffix ("ID" of
# "ID.seg", "ID.hint"), rsi = their count. Returns rax = the segment id, or 0
# if they are not one (not all digits, 0, or above SEG_ID_MAX).
# Clobbers rcx, rdx, rsi, r8.
.globl parse_seg_id
parse_seg_id:
    sub rsp, 8
    call parse_u64
    add rsp, 8
    test edx, edx
    jnz 1f
    cmp rax, SEG_ID_MAX
    jbe 2f
1:  xor eax, eax
2:  ret

# seg_init: (worker) reserves the descriptor table. Returns rax = 0 or -errno.
# Clobbers the caller-saved registers.
.globl seg_init
seg_init:
    mov rdi, (SEG_ID_MAX + 1) * 4
    call reserve_memory
    cmp rax, -4096
    ja 1f
    mov qword ptr [rip + w_segfds], rax
    xor eax, eax
1:  ret

# seg_fd: rdi = segment id. Returns eax = a descriptor of the segment for
# reading (opened on first use, then kept), or rax = -errno.
# Clobbers the caller-saved registers.
.globl seg_fd
seg_fd:
    mov rax, -ENOENT
    test rdi, rdi
    jz 2f
    cmp rdi, SEG_ID_MAX
    ja 2f
    mov rax, qword ptr [rip + w_segfds]
    mov ecx, dword ptr [rax + rdi*4]      # the descriptor + 1; 0: not open yet
    test ecx, ecx
    jz 1f
    lea eax, [rcx - 1]
2:  ret
1:  push rbx
    sub rsp, SEG_NAME_CAP
    mov rbx, rdi
    mov rsi, rdi
    mov rdi, rsp
    call seg_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    test rax, rax
    js 3f
    mov rcx, qword ptr [rip + w_segfds]
    lea edx, [rax + 1]
    mov dword ptr [rcx + rbx*4], edx
    cmp rbx, qword ptr [rip + w_seg_max]
    jbe 3f
    mov qword ptr [rip + w_seg_max], rbx
3:  add rsp, SEG_NAME_CAP
    pop rbx
    ret

# seg_open_new: (worker) creates a new segment and makes it the active one.
# With --sync always the directory is flushed, so the segment's name is
# durable before any record in it is acknowledged.
# Returns rax = 0 or -errno. Clobbers the caller-saved registers.
seg_open_new:
    push rbx
    sub rsp, SEG_NAME_CAP
    mov rcx, qword ptr [rip + ix_base]
    mov eax, dword ptr [rip + w_slot]     # a segment about to be ours: a backup that
    cmp qword ptr [rcx + IX_ACTIVE + rax*8], 0  # reads IX_SEGID once its id is
    jne 4f                                # taken must see that we append: 1, at or
    mov qword ptr [rcx + IX_ACTIVE + rax*8], 1  # below any hold (the one we have, if
4:  mov eax, 1                            # any, is older: it stays named until the
    lock xadd qword ptr [rcx + IX_SEGID], rax  # new one is, as compaction needs)
    lea rbx, [rax + 1]
    mov rax, -ENOSPC                      # out of segment ids: the store is full
    cmp rbx, SEG_ID_MAX
    ja 3f
    mov rdi, rsp
    mov rsi, rbx
    call seg_name
    mov edi, dword ptr [rip + dir_fd]
    mov rsi, rsp
    mov edx, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
    mov r10d, 0644
    mov eax, SYS_openat
    syscall
    test rax, rax
    js 3f
    mov rcx, qword ptr [rip + w_segfds]
    lea edx, [rax + 1]
    mov dword ptr [rcx + rbx*4], edx
    cmp rbx, qword ptr [rip + w_seg_max]
    jbe 2f
    mov qword ptr [rip + w_seg_max], rbx
2:  mov dword ptr [rip + w_seg_fd], eax
    mov qword ptr [rip + w_seg_id], rbx
    xor eax, eax
    mov qword ptr [rip + w_seg_pos], rax
    mov qword ptr [rip + w_seg_zero], rax
    mov rcx, qword ptr [rip + ix_base]    # the compactor leaves it alone
    mov eax, dword ptr [rip + w_slot]
    mov qword ptr [rcx + IX_ACTIVE + rax*8], rbx
    call sync_dir
    test rax, rax
    jns 1f
    mov qword ptr [rip + w_seg_id], 0     # not durable: the next record takes a new one
    jmp 1f                                # (its name stays: backup_let_go clears it)
3:  mov rcx, qword ptr [rip + ix_base]    # none made: the one we had, if any, again
    mov edx, dword ptr [rip + w_slot]
    mov rsi, qword ptr [rip + w_seg_id]
    mov qword ptr [rcx + IX_ACTIVE + rdx*8], rsi
1:  add rsp, SEG_NAME_CAP
    pop rbx
    ret

# seg_reserve: (worker) rdi = record length (a multiple of 8). Reserves room
# for a record at the end of the active segment, starting a new segment when
# this one is long enough. The segment counts the record as open (SG_BUSY)
# until rec_closed. Returns rax = the record's LOC, or -errno (the segment
# could not be created).
# Clobbers the caller-saved registers.
.globl seg_reserve
seg_reserve:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    cmp qword ptr [rip + w_seg_id], 0
    je 1f
    mov rax, qword ptr [rip + w_seg_pos]
    test rax, rax
    jz 2f                                 # an empty segment takes any record
    add rax, rbx
    cmp rax, SEG_MAX
    jbe 2f
1:  call seg_open_new
    test rax, rax
    js 4f
2:  mov r12, qword ptr [rip + w_seg_pos]
    lea rdi, [r12 + rbx]                  # the segment's new end
    cmp dword ptr [rip + cfg_sync], 0
    je 3f
    cmp rdi, qword ptr [rip + w_seg_zero]
    jbe 3f
    # zeros from the new end on; the record's own room needs none (it is
    # written next), and no other reserved record lies beyond the old end.
    # Only a speed-up: on a full disk the record's own write says so.
    call seg_zero
3:  lea rax, [r12 + rbx]
    mov qword ptr [rip + w_seg_pos], rax
    mov rax, qword ptr [rip + w_now]
    mov qword ptr [rip + w_seg_last], rax
    mov rdi, qword ptr [rip + w_seg_id]
    call seg_entry
    lock inc dword ptr [rax + SG_BUSY]    # not compacted while the record is open
    mov rdi, qword ptr [rip + w_seg_id]
    shl rdi, LOC_SEG_SHIFT
    or rdi, r12
    mov rsi, rbx
    call loc_sized
4:  add rsp, 8
    pop r12
    pop rbx
    ret

# seg_zero: rdi = offset. Writes SEG_STEP zero bytes there in the active
# segment and records the end of the zeros (not if a write fails: the next
# record tries again). Returns rax = 0 or -errno.
# Clobbers the caller-saved registers.
seg_zero:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r13, rdi                          # where the zeros begin
    mov r12d, SEG_STEP / ZERO_BUF
1:  mov edi, dword ptr [rip + w_seg_fd]
    lea rsi, [rip + zero_buf]             # never written: it reads as zeros
    mov edx, ZERO_BUF
    mov rcx, rbx
    call pwrite_all
    test rax, rax
    js 2f
    add rbx, ZERO_BUF
    dec r12d
    jnz 1b
    mov qword ptr [rip + w_seg_zero], rbx
    jmp 3f
2:  mov rbx, rax                          # give back what the zeros took: on a
    mov edi, dword ptr [rip + w_seg_fd]   # full disk the record needs the room
    mov rsi, r13
    mov eax, SYS_ftruncate
    syscall
    mov rax, rbx
3:  pop r13
    pop r12
    pop rbx
    ret

# seg_release: (worker) rdi = LOC, rsi = length of a record that will never
# count, edx = a descriptor its segment can be written through. It is no
# longer open in its segment (rec_closed); if it is the last one reserved, its
# room is taken back (and the segment cut there); otherwise it stays as dead
# space that recovery skips, its footer marked so (FT_MAGIC_REL: once the
# segment is sealed, a footer of zeros there is damage). If the mark cannot
# be written, the segment never gets a seal (SGF_LAX).
# Clobbers the caller-saved registers.
.globl seg_release
seg_release:
    mov rax, rdi
    shr rax, LOC_SEG_SHIFT
    cmp rax, qword ptr [rip + w_seg_id]
    jne 2f
    mov rax, LOC_OFF_MASK
    and rax, rdi
    lea rcx, [rax + rsi]
    cmp rcx, qword ptr [rip + w_seg_pos]
    jne 2f
    mov qword ptr [rip + w_seg_pos], rax
    mov qword ptr [rip + w_seg_zero], rax # what it wrote goes too: on a full disk
    push rdi                              # its blocks are the room others need
    push rsi
    mov rsi, rax
    mov edi, dword ptr [rip + w_seg_fd]
    mov eax, SYS_ftruncate                # beyond the last record: nothing to lose
    syscall
    pop rsi
    pop rdi
    test rax, rax                         # not cut: its footer (one written before
    js 2f                                 # a failed flush) must be marked instead
    jmp rec_closed
2:  push rbx
    sub rsp, 16                           # the mark
    mov rbx, rdi
    xor eax, eax
    mov qword ptr [rsp + FT_SEQ], rax
    mov dword ptr [rsp + FT_CRC], eax
    mov dword ptr [rsp + FT_MAGIC], FT_MAGIC_REL
    test edx, edx
    js 3f
    mov edi, edx
    mov rcx, LOC_OFF_MASK
    and rcx, rbx
    lea rcx, [rcx + rsi - FT_SIZE]
    mov rsi, rsp
    mov edx, FT_SIZE
    call pwrite_all
    test rax, rax
    jns 4f
3:  mov rdi, rbx
    call loc_entry
    lock or dword ptr [rax + SG_FLAGS], SGF_LAX
4:  mov rdi, rbx
    add rsp, 16
    pop rbx
    jmp rec_closed

# seg_expiry: rdi = segment id, rsi = the expiry (Unix seconds) of a put in
# it. Marks the segment as holding puts that expire (SGF_EXPIRY), counts the
# put (SG_EXPIRING), raises SG_EXPIRE_MAX to it and lowers SG_EXPIRE_MIN to
# it. Any process, at once (a cmpxchg for each bound). Clobbers rax, rcx, rdi.
.globl seg_expiry
seg_expiry:
    call seg_entry
    lock inc dword ptr [rax + SG_EXPIRING]
    mov rcx, rax
    mov rax, qword ptr [rcx + SG_EXPIRE_MAX]
1:  cmp rax, rsi
    jae 2f
    lock cmpxchg qword ptr [rcx + SG_EXPIRE_MAX], rsi
    jne 1b                                # rax holds what is there now
2:  mov rax, rcx
    jmp .Lse_min

# seg_expiring: rdi = segment id, rsi = the expiry of a put in it that is not
# counted (a copy of one that has expired, compact.s). Marks the segment
# (SGF_EXPIRY) and lowers SG_EXPIRE_MIN to it, so loc_expired reads it.
# Clobbers rax, rcx, rdi.
.globl seg_expiring
seg_expiring:
    call seg_entry
.Lse_min:
    lock or dword ptr [rax + SG_FLAGS], SGF_EXPIRY
    mov rcx, rax
    mov rax, qword ptr [rcx + SG_EXPIRE_MIN]
4:  test rax, rax                         # (0: none yet)
    jz 5f
    cmp rax, rsi
    jbe 6f
5:  lock cmpxchg qword ptr [rcx + SG_EXPIRE_MIN], rsi
    jne 4b
6:  ret

# seg_entry: rdi = segment id. Returns rax = its SG_* entry in the shared
# index. Clobbers nothing else.
.globl seg_entry
seg_entry:
    mov rax, rdi
    shl rax, SG_SHIFT
    add rax, qword ptr [rip + ix_base]
    add rax, IX_SEGS
    ret

# loc_entry: rdi = LOC. Returns rax = the SG_* entry of its segment. Clobbers rdi.
.globl loc_entry
loc_entry:
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    jmp seg_entry

# rec_closed: rdi = LOC of a record that is finished with (published, or
# given up). Its segment no longer counts it as open. Clobbers rax, rdi.
.globl rec_closed
rec_closed:
    call loc_entry
    lock dec dword ptr [rax + SG_BUSY]
    ret

# pub_count: eax = the PUB_* outcome of publishing the record at LOC rsi
# (LOC_TOMB set for a delete), rdx = the LOC it replaced (when applied).
# Counts the record that stopped being the newest of its key as dead in its
# segment (SG_DEAD, which is what makes a segment worth compacting, and its
# bytes), and keys that gained or lost their value (IX_KEYS).
# A delete that replaced nothing, or a record in its own segment, will be
# its key's only record once that segment is compacted: it counts in SG_DROP
# (a hint that makes the segment worth compacting; index_rec_drop counts the
# other deletes that become droppable).
# Keeps rax; clobbers the other caller-saved registers. Runs in any process
# and thread (loc_len reads no shared descriptor).
.globl pub_count
pub_count:
    bt rsi, LOC_TOMB_BIT
    jnc 6f
    cmp eax, PUB_NEW
    je 5f
    cmp eax, PUB_REPLACED
    jne 6f
5:  mov rcx, rdx
    btr rcx, LOC_CLAIM_BIT
    test rcx, rcx
    jz 7f                                 # nothing before it
    xor rcx, rsi
    shr rcx, LOC_SEG_SHIFT
    and ecx, LOC_SEG_MASK
    jnz 6f                                # what it replaced is in another segment
7:  mov rcx, rsi
    shr rcx, LOC_SEG_SHIFT
    and ecx, LOC_SEG_MASK
    shl rcx, SG_SHIFT
    add rcx, qword ptr [rip + ix_base]
    lock inc dword ptr [rcx + IX_SEGS + SG_DROP]
6:  mov rdi, qword ptr [rip + ix_base]    # the count of keys with a value (metrics)
    cmp eax, PUB_NEW
    jne 3f
    bt rsi, LOC_TOMB_BIT                  # a delete of nothing
    jc 4f
    lock inc qword ptr [rdi + IX_KEYS]
    jmp 4f
3:  cmp eax, PUB_REPLACED
    jne 4f
    bt rsi, LOC_TOMB_BIT
    jnc 4f
    lock dec qword ptr [rdi + IX_KEYS]
4:  mov rdi, rsi
    cmp eax, PUB_LOST
    je 1f                                 # this one: overwritten already
    cmp eax, PUB_EXISTS
    je 2f
    mov rdi, rdx
    btr rdi, LOC_CLAIM_BIT                # a claim on nothing is nothing
    test rdi, rdi
    jz 2f
1:  push rax
    push rdi
    sub rsp, 8
    call loc_len
    mov rdi, qword ptr [rsp + 8]
    mov qword ptr [rsp + 8], rax
    call loc_entry
    add rsp, 8
    pop rcx
    lock inc dword ptr [rax + SG_DEAD]
    lock add qword ptr [rax + SG_DEAD_BYTES], rcx
    pop rax
2:  ret

# loc_sized: rdi = a LOC without a length, rsi = its record's length (a
# multiple of 8). Returns rax = the LOC with the length in it, or with 0
# there when the length does not fit (loc_len reads it then). Clobbers nothing else.
.globl loc_sized
loc_sized:
    mov rax, rsi
    shr rax, 3
    cmp rax, LOC_LEN_MAX
    jbe 1f
    xor eax, eax
1:  shl rax, LOC_LEN_SHIFT
    or rax, rdi
    ret

# loc_len: rdi = LOC. Returns rax = the length in bytes of the record it
# names: from the LOC, or, for a record too long for the LOC to say, from its
# header, read through a descriptor of its own (threads share no descriptor
# table entry this way) and checked. Returns 0 if that header cannot be read
# or does not check out: compaction removed the segment, whose bytes then
# count no more. Clobbers the caller-saved registers.
.globl loc_len
loc_len:
    mov rax, rdi
    shr rax, LOC_LEN_SHIFT
    and eax, LOC_LEN_MAX
    jz 1f
    shl rax, 3
    ret
1:  push rbx
    push r12
    push r13
    mov rbx, rdi
    sub rsp, REC_HDR + NAME_MAX + 1 + SEG_NAME_CAP  # (a multiple of 16)
    lea rdi, [rsp + REC_HDR + NAME_MAX + 1]
    mov rsi, rbx
    shr rsi, LOC_SEG_SHIFT
    and esi, LOC_SEG_MASK
    call seg_name
    mov edi, dword ptr [rip + dir_fd]
    lea rsi, [rsp + REC_HDR + NAME_MAX + 1]
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    xor r13d, r13d                        # the answer while nothing checks out
    test rax, rax
    js 3f
    mov r12d, eax
    mov edi, eax
    mov rsi, rsp
    mov edx, REC_HDR + NAME_MAX
    mov rcx, LOC_OFF_MASK
    and rcx, rbx
    call pread_full
    mov rbx, rax
    mov edi, r12d
    mov eax, SYS_close                    # read-only: close cannot lose data
    syscall
    mov rdi, rsp
    mov rsi, rbx
    call rec_header_ok
    test eax, eax
    jz 3f
    mov rax, MAX_BODY_LIMIT
    mov rsi, qword ptr [rsp + REC_VLEN]
    cmp rsi, rax
    ja 3f
    mov edi, dword ptr [rsp + REC_KLEN]
    call rec_len
    mov r13, rax
3:  mov rax, r13
    add rsp, REC_HDR + NAME_MAX + 1 + SEG_NAME_CAP
    pop r13
    pop r12
    pop rbx
    ret

# seg_seal: (worker) stops appending to the active segment: gives back the
# zeros written ahead of its records, and lets the compactor have it. The next
# record starts a new segment. Clobbers the caller-saved registers.
.globl seg_seal
seg_seal:
    mov edi, dword ptr [rip + w_seg_fd]
    mov rsi, qword ptr [rip + w_seg_pos]
    mov eax, SYS_ftruncate                # only zeros beyond: failure loses nothing
    syscall
    mov rcx, qword ptr [rip + ix_base]
    mov eax, dword ptr [rip + w_slot]
    mov qword ptr [rcx + IX_ACTIVE + rax*8], 0
    mov qword ptr [rip + w_seg_id], 0
    ret

# seg_totals: the records of every segment not removed, from the segments'
# counts (hints: a live count is never below zero). Returns rax = live
# records, rdx = dead records, rsi = live bytes, rdi = dead bytes.
# Clobbers rcx, r8-r11.
.globl seg_totals
seg_totals:
    xor r8d, r8d                          # live
    xor edx, edx                          # dead
    xor esi, esi                          # live bytes
    xor edi, edi                          # dead bytes
    mov rax, qword ptr [rip + ix_base]
    mov r9, qword ptr [rax + IX_SEGID]
    cmp r9, SEG_ID_MAX
    jbe 1f
    mov r9d, SEG_ID_MAX
1:  lea r10, [rax + IX_SEGS]
    xor ecx, ecx
2:  inc rcx
    cmp rcx, r9
    ja 3f
    mov rax, rcx
    shl rax, SG_SHIFT
    add rax, r10
    test dword ptr [rax + SG_FLAGS], SGF_GONE
    jnz 2b
    mov r11, qword ptr [rax + SG_DEAD_BYTES]   # one reading of it for both sums
    add rdi, r11
    neg r11
    add r11, qword ptr [rax + SG_BYTES]   # live bytes (byte counts are far below 2^63)
    js 4f                                 # (counts are hints: never below zero)
    add rsi, r11
4:  mov r11d, dword ptr [rax + SG_DEAD]
    add rdx, r11
    mov eax, dword ptr [rax + SG_TOTAL]
    sub rax, r11
    jb 2b
    add r8, rax
    jmp 2b
3:  mov rax, r8
    ret

# sg_mostly_dead: rax = a segment's SG_* entry. Returns ecx = 1 if it is worth
# compacting: some of its records, and at least half, are dead or tombstones
# that compaction drops (SG_DEAD + SG_DROP, both hints). Clobbers nothing else.
.globl sg_mostly_dead
sg_mostly_dead:
    push rdx
    mov edx, dword ptr [rax + SG_DEAD]
    add edx, dword ptr [rax + SG_DROP]
    mov rcx, qword ptr [rax + SG_EXPIRE_MAX]  # every put in it that expires has:
    test rcx, rcx                         # they count as dead too (w_unix: the
    jz 2f                                 # compactor sets its own each round)
    cmp rcx, qword ptr [rip + w_unix]
    ja 2f
    add edx, dword ptr [rax + SG_EXPIRING]
2:  xor ecx, ecx
    test edx, edx
    jz 1f
    add edx, edx
    cmp edx, dword ptr [rax + SG_TOTAL]
    setae cl
1:  pop rdx
    ret

# seg_sweep: (worker, every tick) seals the active segment once it has been
# idle for SEG_IDLE seconds, or a write found the disk full, with half its
# records dead (so a stopped overwrite load is compacted, and a full disk gets
# its room back); or, under load, once it is SEG_EARLY long with half its
# records dead (keys made and deleted all day get their disk and index nodes
# back within seconds, not after SEG_MAX of writes: records still being
# written keep their room, and compaction waits for them); gives back the
# zeros written ahead of one that stays active once it has been idle for
# SEG_TRIM_IDLE seconds (its disk use settles at what its records take); and closes this
# process's descriptors of
# segments the compactor removed (their disk space is freed with the last
# one), except one a GET is still sending from.
# Clobbers the caller-saved registers.
.globl seg_sweep
seg_sweep:
    push rbx
    push r12
    push r13
    mov rdi, qword ptr [rip + w_seg_id]
    test rdi, rdi
    jz 1f
    cmp byte ptr [rip + w_disk_full], 0   # a full disk: compaction is the only
    jne 7f                                # way to room, idle or not
    cmp qword ptr [rip + w_seg_pos], SEG_EARLY
    jae 8f
    mov rax, qword ptr [rip + w_now]
    sub rax, qword ptr [rip + w_seg_last]
    cmp rax, SEG_IDLE
    jb 1f
7:  mov byte ptr [rip + w_disk_full], 0
    call seg_entry
    cmp dword ptr [rax + SG_BUSY], 0
    jne 1f
    jmp 9f
8:  call seg_entry
9:  call sg_mostly_dead
    test ecx, ecx
    jz 10f
    call seg_seal
    jmp 1f
10: mov rax, qword ptr [rip + w_now]      # kept, but long idle: the zeros written
    sub rax, qword ptr [rip + w_seg_last] # ahead go (the next record writes more)
    cmp rax, SEG_TRIM_IDLE
    jb 1f
    mov rsi, qword ptr [rip + w_seg_pos]
    cmp rsi, qword ptr [rip + w_seg_zero]
    jae 1f
    mov edi, dword ptr [rip + w_seg_fd]
    mov eax, SYS_ftruncate                # only zeros beyond: failure loses nothing
    syscall
    test rax, rax
    js 1f
    mov rax, qword ptr [rip + w_seg_pos]
    mov qword ptr [rip + w_seg_zero], rax
1:  mov rax, qword ptr [rip + ix_base]
    mov r13, qword ptr [rax + IX_DEAD_GEN]
    cmp r13, qword ptr [rip + w_dead_gen]
    je 6f
    mov ebx, 1                            # segment id
2:  cmp rbx, qword ptr [rip + w_seg_max]
    ja 5f
    mov rax, qword ptr [rip + w_segfds]
    mov r12d, dword ptr [rax + rbx*4]     # descriptor + 1
    test r12d, r12d
    jz 4f
    mov rdi, rbx
    call seg_entry
    test dword ptr [rax + SG_FLAGS], SGF_GONE
    je 4f
    dec r12d
    mov edi, r12d
    call seg_in_use
    test eax, eax
    jz 3f
    xor r13d, r13d                        # look again at the next tick
    jmp 4f
3:  mov edi, r12d
    mov eax, SYS_close                    # read-only: close cannot lose data
    syscall
    mov rax, qword ptr [rip + w_segfds]
    mov dword ptr [rax + rbx*4], 0
4:  inc rbx
    jmp 2b
5:  mov qword ptr [rip + w_dead_gen], r13
6:  pop r13
    pop r12
    pop rbx
    ret

# seg_in_use: (worker) edi = a segment descriptor. Returns eax = 1 if a
# connection is sending a value from it. Clobbers rcx, rdx.
seg_in_use:
    mov rdx, qword ptr [rip + w_table]
    xor ecx, ecx
1:  cmp ecx, dword ptr [rip + w_maxfd]
    ja 3f
    cmp dword ptr [rdx + C_STATE], ST_WRITE
    jne 2f
    cmp dword ptr [rdx + C_GET_FD], edi
    jne 2f
    mov eax, 1
    ret
2:  add rdx, CONN_SIZE
    inc ecx
    jmp 1b
3:  xor eax, eax
    ret

# rec_len: rdi = key length, rsi = value length. Returns rax = the length of
# the record. Clobbers nothing else.
.globl rec_len
rec_len:
    lea rax, [rdi + rsi + REC_HDR + REC_ALIGN - 1]
    and rax, -REC_ALIGN
    add rax, FT_SIZE
    ret

# rec_header_ok: rdi = the start of a record as read from disk, rsi = how
# many of its bytes were read (or -errno). Returns eax = 1 if its header and
# key are there and check out (magic, key length, CRC), else 0.
# Clobbers the caller-saved registers.
.globl rec_header_ok
rec_header_ok:
    xor eax, eax
    cmp rsi, REC_HDR
    jl 1f
    xor ecx, ecx                          # the CRC's start: 0 for v1, the magic
    cmp dword ptr [rdi + REC_MAGIC], REC_MAGIC_V1  # for v2
    je 2f
    mov ecx, REC_MAGIC_V2
    cmp dword ptr [rdi + REC_MAGIC], ecx
    jne 1f
    cmp dword ptr [rdi + REC_TYPE], REC_PUT
    jne 1f
2:  mov edx, dword ptr [rdi + REC_KLEN]
    test edx, edx
    jz 1f
    cmp edx, NAME_MAX
    ja 1f
    add edx, REC_HDR
    cmp rdx, rsi
    ja 1f
    push rdi
    lea rsi, [rdi + 8]
    sub edx, 8
    mov edi, ecx
    call crc32c
    pop rdi
    cmp eax, dword ptr [rdi + REC_HCRC]
    sete al
    movzx eax, al
1:  ret

# rec_header: rdi = write handle (its key; WH_META_LEN: its metadata's
# length, WH_META: the metadata, or 0 if it is spooled), rsi = the value
# region's length, edx = REC_PUT or REC_DEL.
# Builds the record's header and key at the start of w_rec, and for a put
# with metadata its prefix and block after them (a v2 record).
# Returns eax = the header CRC (also stored in the header). Clobbers the caller-saved registers.
.globl rec_header
rec_header:
    push rbx
    mov rbx, rdi
    lea r8, [rip + w_rec]
    mov dword ptr [r8 + REC_MAGIC], REC_MAGIC_V1
    cmp edx, REC_PUT
    jne 1f
    cmp dword ptr [rbx + WH_META_LEN], 0
    je 1f
    mov dword ptr [r8 + REC_MAGIC], REC_MAGIC_V2
1:  mov qword ptr [r8 + REC_VLEN], rsi
    mov rax, qword ptr [rbx + WH_KLEN]
    mov dword ptr [r8 + REC_KLEN], eax
    mov dword ptr [r8 + REC_TYPE], edx
    mov rax, qword ptr [rip + w_unix]
    mov qword ptr [r8 + REC_TIME], rax
    lea rdi, [r8 + REC_HDR]
    mov rsi, qword ptr [rbx + WH_KEY]
    mov rdx, qword ptr [rbx + WH_KLEN]
    call copy
    xor edi, edi
    cmp dword ptr [rip + w_rec + REC_MAGIC], REC_MAGIC_V2
    jne 2f
    mov rsi, qword ptr [rbx + WH_META]    # the metadata after the key (unless it
    test rsi, rsi                         # is in a spool already: WH_META 0)
    jz 3f
    mov rdi, rax
    mov edx, dword ptr [rbx + WH_META_LEN]
    call copy
3:  mov edi, REC_MAGIC_V2                 # (v2's header CRC starts from its magic)
2:  lea rsi, [rip + w_rec + 8]
    mov rdx, qword ptr [rbx + WH_KLEN]
    add rdx, REC_HDR - 8
    call crc32c
    mov dword ptr [rip + w_rec + REC_HCRC], eax
    pop rbx
    ret

# rec_seal: rdi = where the footer goes (FT_SIZE bytes), esi = CRC of the
# value, edx = the header CRC, rcx = the sequence number.
# Writes the footer. Clobbers the caller-saved registers.
.globl rec_seal
rec_seal:
    push rbx
    push r12
    push r13
    mov rbx, rdi
    mov r12d, edx
    mov qword ptr [rbx + FT_SEQ], rcx
    mov dword ptr [rbx + FT_CRC], r12d    # the CRC runs on over the seq and the header CRC
    mov edi, esi
    mov rsi, rbx
    mov edx, FT_CRC + 4
    call crc32c
    mov dword ptr [rbx + FT_CRC], eax
    mov dword ptr [rbx + FT_MAGIC], FT_MAGIC_V1
    pop r13
    pop r12
    pop rbx
    ret

# next_seq: returns rax = a new sequence number, higher than every one
# handed out before in any process. Clobbers rcx.
.globl next_seq
next_seq:
    mov rcx, qword ptr [rip + ix_base]
    mov eax, 1
    lock xadd qword ptr [rcx + IX_SEQ], rax
    inc rax
    ret

# pwrite_all: edi = fd, rsi = buf, rdx = length, rcx = file offset.
# Writes every byte, retrying short writes and EINTR. Returns rax = 0 or -errno.
# Clobbers rcx, rdx, rsi, r8, r9, r10, r11.
.globl pwrite_all
pwrite_all:
    mov r8, rdx
    mov r9, rcx
1:  test r8, r8
    jz 3f
    mov rdx, r8
    mov r10, r9
    mov eax, SYS_pwrite64
    syscall
    test rax, rax
    js 2f
    add rsi, rax
    sub r8, rax
    add r9, rax
    jmp 1b
2:  cmp rax, -EINTR
    je 1b
    ret
3:  xor eax, eax
    ret

# pread_full: edi = fd, rsi = buf, rdx = length, rcx = file offset.
# Reads until length bytes or the end of the file, retrying EINTR.
# Returns rax = bytes read, or -errno. Clobbers rcx, rdx, rsi, r8, r9, r10, r11.
.globl pread_full
pread_full:
    mov r8, rdx
    mov r9, rcx
    xor ecx, ecx
1:  test r8, r8
    jz 3f
    push rcx
    mov rdx, r8
    mov r10, r9
    mov eax, SYS_pread64
    syscall
    pop rcx
    test rax, rax
    js 2f
    jz 3f
    add rsi, rax
    sub r8, rax
    add r9, rax
    add rcx, rax
    jmp 1b
2:  cmp rax, -EINTR
    je 1b
    ret
3:  mov rax, rcx
    ret

.bss
.p2align 6
.globl w_rec
w_rec:      .space REC_BUF           # the event loop's record buffer
zero_buf:   .space ZERO_BUF          # never written
.p2align 3
w_segfds:   .space 8                 # per-process table: segment id -> descriptor + 1
w_seg_id:   .space 8                 # the active segment, 0 if none yet
w_seg_pos:  .space 8                 # where its next record goes
w_seg_zero: .space 8                 # end of the zeros written ahead (--sync always)
w_seg_last: .space 8                 # w_now when its last record was reserved
w_seg_max:  .space 8                 # the highest id in w_segfds
w_dead_gen: .space 8                 # IX_DEAD_GEN when this process last closed removed segments
w_seg_fd:   .space 4
w_disk_full: .space 1                # a write found the disk full since the last tick
.globl w_seg_fd, w_seg_id, w_seg_pos, w_segfds, w_disk_full
.text
