# recover.s - rebuilding the index from the segments at startup.
#
# The master does this before it listens or forks: every "ID.seg" file in the
# data directory is read from its start, record by record (scan_segment). A
# record whose header (magic, lengths, CRC over header and key) does not check
# out starts a span that ends at the next record whose header does: damage,
# reported, unless no record follows it (a torn tail: a crash mid-append, or
# the zeros written ahead). A record whose header checks out but whose footer
# is all zeros (an upload that never finished, or was refused) is skipped by
# its length; one whose footer is anything else but right is damage: reported,
# and not believed (its key keeps the value of its newest intact write). A
# failure with a crash's shape (zeros where a cut write did not reach the disk)
# is not damage.
# Every other record is put in the index by its sequence number, so the
# newest write of each key wins whatever the order of files. A segment that
# cannot be read stops the server (exit 2), never a silent loss.
.text

# recover_log: (master) maps the index and fills it from the segments, with
# cfg_workers loader processes at once: forked, they share the index's
# mapping (every change to it is atomic, as the workers' are) and each has
# its own copy of the scan's state (r_*); loader k takes the segments whose
# id is k modulo their number (RECOVER_LOADERS at most). The master waits
# for them all. A loader that fails says why (fatal, only the first of them:
# fatal_once) and exits 2: the master stops the others and exits 2 too. Each
# loader walks the directory through a descriptor of its own (the position of
# one open directory is shared by every process that inherited it).
# Exits with a clear message on any failure. Clobbers the caller-saved registers.
.globl recover_log
recover_log:
    push rbx
    push r12
    push r13
    sub rsp, 32                           # a timespec; [rsp + 16] a wait status
    call have_crc32c
    test eax, eax
    jz .Lrl_no_crc
    call index_init
    test rax, rax
    js .Lrl_no_index
    call snapshot_load                    # a clean stop's image, if it checks out
    test eax, eax
    jz 7f
    mov rax, qword ptr [rip + ix_base]
    mov rax, qword ptr [rax + IX_SEGID]
    mov qword ptr [rip + r_maxid], rax
    jmp .Lrl_loaded
7:  lea rdi, [rip + recover_entry]        # the names alone: r_maxid
    xor esi, esi
    call dir_walk
    test rax, rax
    js .Lrl_dir
    call seals_load                       # (up to r_maxid)
    mov eax, SYS_getpid
    syscall
    mov r13d, eax
    mov ebx, dword ptr [rip + cfg_workers]
    cmp ebx, RECOVER_LOADERS
    jbe 2f
    mov ebx, RECOVER_LOADERS
2:  mov dword ptr [rip + r_parts], ebx
    xor r12d, r12d
.Lrl_fork:
    cmp r12d, ebx
    jae .Lrl_wait
    mov dword ptr [rip + r_part], r12d
    mov eax, SYS_fork
    syscall
    test rax, rax
    js .Lrl_no_fork
    jz .Lrl_loader
    lea rcx, [rip + r_pids]
    mov dword ptr [rcx + r12*4], eax
    inc r12d
    jmp .Lrl_fork
.Lrl_no_fork:
    mov esi, eax
    neg esi
    mov edi, RF_FORK
    call recover_failed
    mov ebx, r12d                         # the loaders there are
.Lrl_wait:                                # reap them all, whichever ends first;
    xor r12d, r12d                        # after a failure, stop the rest once
1:  cmp dword ptr [rip + r_fail], 0       # its line is said (or is ours to say)
    je 2f
    cmp dword ptr [rip + r_mine], 0
    jne 3f
    mov rax, qword ptr [rip + ix_base]
    bt dword ptr [rax + IX_LOAD_FAILED], LOAD_SAID_BIT
    jnc 2f                                # a loader is saying it: let it finish
3:  call stop_loaders
2:  cmp r12d, ebx
    jae .Lrl_loaded
    mov edi, -1
    lea rsi, [rsp + 16]
    xor edx, edx
    xor r10d, r10d
    mov eax, SYS_wait4
    syscall
    cmp rax, -EINTR
    je 1b
    test rax, rax
    js .Lrl_lost
    xor ecx, ecx                          # one of ours? (a child from before our
    lea rdx, [rip + r_pids]               # exec is not: its end says nothing)
4:  cmp ecx, RECOVER_LOADERS
    jae 1b
    cmp dword ptr [rdx + rcx*4], eax
    je 5f
    inc ecx
    jmp 4b
5:  mov dword ptr [rdx + rcx*4], 0        # gone: never signal its pid again
    inc r12d
    mov eax, dword ptr [rsp + 16]
    mov esi, eax
    and esi, 0x7f
    jz 6f
    mov edi, RF_SIGNAL                    # killed by a signal
    call recover_failed
    jmp 1b
6:  test eax, 0xff00
    jz 1b
    mov edi, RF_EXIT                      # exited non-zero (it said why, or began to)
    xor esi, esi
    call recover_failed
    jmp 1b
.Lrl_lost:
    mov esi, eax
    neg esi
    mov edi, RF_WAIT
    call recover_failed
    call stop_loaders
.Lrl_loaded:
    cmp dword ptr [rip + r_fail], 0
    jne .Lrl_fail
    mov rax, qword ptr [rip + ix_base]
    mov rcx, qword ptr [rip + r_maxid]
    mov qword ptr [rax + IX_SEGID], rcx   # new segments get new names
    # Sequence numbers are entity-tags: never reused for another value. Under
    # --sync none a crash may lose the last writes, and their numbers would
    # come again; so numbering restarts at least at the clock (seconds <<
    # SEQ_TIME_SHIFT: a million writes a second could not have run ahead of it).
    mov edi, CLOCK_REALTIME
    mov rsi, rsp
    mov eax, SYS_clock_gettime            # cannot fail with a valid clock and buffer
    syscall
    mov rax, qword ptr [rsp]
    shl rax, SEQ_TIME_SHIFT
    mov rcx, qword ptr [rip + ix_base]
    cmp rax, qword ptr [rcx + IX_SEQ]
    jbe 1f
    mov qword ptr [rcx + IX_SEQ], rax
1:  add rsp, 32
    pop r13
    pop r12
    pop rbx
    ret
.Lrl_loader:                              # a loader: its share, then exit 0
    mov edi, PR_SET_PDEATHSIG             # the master gone, nothing waits for this
    mov esi, SIGKILL                      # (and the data directory's lock must go)
    mov eax, SYS_prctl
    syscall
    mov eax, SYS_getppid                  # it may have gone before prctl
    syscall
    cmp eax, r13d
    jne 3f
    mov dword ptr [rip + r_loader], 1
    mov rax, qword ptr [rip + ix_base]    # of failing loaders, one says why
    add rax, IX_LOAD_FAILED
    mov qword ptr [rip + fatal_once], rax
    mov edi, dword ptr [rip + dir_fd]     # a directory of its own: the position
    lea rsi, [rip + r_dot]                # of one open directory is shared by
    mov edx, O_RDONLY | O_DIRECTORY | O_CLOEXEC  # all who inherited it (the
    xor r10d, r10d                        # lock stays with the inherited one)
    mov eax, SYS_openat
    syscall
    test rax, rax
    js .Lrl_dir
    mov dword ptr [rip + dir_fd], eax
    lea rdi, [rip + recover_entry]
    xor esi, esi
    call dir_walk
    test rax, rax
    js .Lrl_dir
    xor edi, edi
    mov eax, SYS_exit_group
    syscall
3:  mov edi, EXIT_USAGE
    mov eax, SYS_exit_group
    syscall
.Lrl_fail:                                # every loader is gone (so is the lock they
    cmp dword ptr [rip + r_mine], 0       # held): one line, ours unless a loader's
    jne 7f                                # is said
    mov rax, qword ptr [rip + ix_base]
    bt dword ptr [rax + IX_LOAD_FAILED], LOAD_SAID_BIT
    jnc 7f
    mov edi, EXIT_USAGE
    mov eax, SYS_exit_group
    syscall
7:  mov eax, dword ptr [rip + r_fail]
    mov ecx, dword ptr [rip + r_fail_arg]
    xor edx, edx
    cmp eax, RF_FORK
    je 8f
    cmp eax, RF_WAIT
    je 9f
    cmp eax, RF_SIGNAL
    je 10f
    lea rdi, [rip + err_rfail]            # it exited before saying why
    mov esi, OFFSET err_rfail_len
    xor ecx, ecx
    call fatal
8:  lea rdi, [rip + err_rfork]
    mov esi, OFFSET err_rfork_len
    call fatal
9:  lea rdi, [rip + err_rwait]
    mov esi, OFFSET err_rwait_len
    call fatal
10: lea rdi, [rip + r_signal]             # the signal's number, as the detail
    mov esi, ecx
    call fmt_u64
    mov byte ptr [rax], 0
    lea rdi, [rip + err_loader]
    mov esi, OFFSET err_loader_len
    lea rdx, [rip + r_signal]
    xor ecx, ecx
    call fatal

# stop_loaders: (master) kills every loader not yet reaped (r_pids, 0 =
# none), so none is left filling an index no one will use. Clobbers rax, rcx,
# rdx, rsi, rdi, r11.
stop_loaders:
    xor edx, edx
1:  cmp edx, RECOVER_LOADERS
    jae 2f
    lea rcx, [rip + r_pids]
    mov edi, dword ptr [rcx + rdx*4]
    inc edx
    test edi, edi
    jz 1b
    push rdx
    mov esi, SIGKILL
    mov eax, SYS_kill
    syscall
    pop rdx
    jmp 1b
2:  ret

# recover_failed: (master) edi = RF_* (how recovery failed), esi = its detail
# (a signal, an errno). Keeps the first failure, and claims the line that
# says so unless a loader has (IX_LOAD_FAILED): r_mine.
# Clobbers rax.
recover_failed:
    cmp dword ptr [rip + r_fail], 0
    jne 1f
    mov dword ptr [rip + r_fail], edi
    mov dword ptr [rip + r_fail_arg], esi
    mov rax, qword ptr [rip + ix_base]
    lock bts dword ptr [rax + IX_LOAD_FAILED], LOAD_CLAIMED_BIT
    setnc al
    movzx eax, al
    mov dword ptr [rip + r_mine], eax
1:  ret

.Lrl_no_crc:
    lea rdi, [rip + err_no_crc]
    mov esi, OFFSET err_no_crc_len
    xor edx, edx
    xor ecx, ecx
    call fatal
.Lrl_no_index:
    lea rdi, [rip + err_no_index]
    mov esi, OFFSET err_no_index_len
    xor edx, edx
    mov ecx, eax
    neg ecx
    call fatal
.Lrl_dir:
    lea rdi, [rip + err_scan_dir]
    mov esi, OFFSET err_scan_dir_len
    mov rdx, qword ptr [rip + cfg_data]
    mov ecx, eax
    neg ecx
    call fatal

# recover_entry: (dir_walk) rdi = an entry's name. A segment's ("ID.seg") id
# counts for r_maxid; in a loader (r_loader), a segment of its share goes into
# the index, from its hint if it has one that checks out, or else read
# record by record. Returns rax = 0.
# Clobbers the caller-saved registers.
recover_entry:
    push rbx
    push r12
    push r13
    mov r12, rdi
    call cstr_len
    cmp rax, 5
    jb 9f
    cmp dword ptr [r12 + rax - 4], 0x6765732e   # ".seg"
    jne 9f
    mov rdi, r12
    lea rsi, [rax - 4]
    call parse_seg_id
    test rax, rax
    jz 9f
    mov r13, rax
    cmp rax, qword ptr [rip + r_maxid]
    jbe 1f
    mov qword ptr [rip + r_maxid], rax
1:  cmp dword ptr [rip + r_loader], 0     # the master's pass: the names alone
    je 9f
    xor edx, edx                          # a loader: its share alone
    mov ecx, dword ptr [rip + r_parts]
    div rcx
    cmp edx, dword ptr [rip + r_part]
    jne 9f
    mov dword ptr [rip + r_cut_said], 0
    mov rdi, r13
    call hint_load
    test eax, eax
    jnz 9f
    mov rdi, r12
    mov rsi, r13
    call recover_segment                  # (damage marks the segment: r_report)
9:  xor eax, eax
    pop r13
    pop r12
    pop rbx
    ret

# recover_record: a callback of scan_segment, rdi = the LOC of a record that
# checks out (LOC_TOMB for a delete), rsi = its length; the rest in r_*.
# Puts it in the index by its sequence number and counts it in its segment.
# Clobbers the caller-saved registers.
recover_record:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    mov rcx, qword ptr [rip + r_seq]      # new writes come after every old one
    mov rdx, qword ptr [rip + ix_base]    # (loaders at once: a cmpxchg to the
    mov rax, qword ptr [rdx + IX_SEQ]     # larger)
2:  cmp rax, rcx
    jae 1f
    lock cmpxchg qword ptr [rdx + IX_SEQ], rcx
    jne 2b                                # rax holds what is there now
1:  mov rsi, qword ptr [rip + r_delete_at]  # a put that expires
    test rsi, rsi
    jz 3f
    mov rdi, rbx
    shr rdi, LOC_SEG_SHIFT
    and edi, LOC_SEG_MASK
    call seg_expiry
3:  mov rdi, rbx
    call loc_entry
    inc dword ptr [rax + SG_TOTAL]
    add qword ptr [rax + SG_BYTES], r12
    lea rdi, [rip + r_key]
    mov rsi, qword ptr [rip + r_klen]
    call index_node                       # every record that checks out counts
    test rax, rax
    js .Lrs_full
    mov rdi, rax
    mov rsi, qword ptr [rip + r_seq]
    mov rdx, rbx
    xor ecx, ecx
    call index_publish
    mov rsi, rbx
    call pub_count
    add rsp, 8
    pop r12
    pop rbx
    ret

# recover_segment: the recovery scan of one segment (scan_segment with
# recover_record). rdi = the segment's file name, rsi = its id. Returns rax =
# the damage found in it.
recover_segment:
    lea rdx, [rip + recover_record]
    jmp scan_segment

# scan_segment: rdi = a segment's file name, rsi = its id, rdx = a function
# called for each record that checks out (rdi = its LOC, LOC_TOMB for a
# delete; rsi = its length; its key, sequence number and type in r_*).
# Reads the segment from its start to its end. A record whose header does not
# check out starts a span, which ends at the next record whose header does
# (searched for at every REC_ALIGN, up to LOC_OFF_MASK): each span, and each
# record whose footer is neither right nor all zeros (never sealed), is
# damage, reported (r_report) and never given to the callback; unless it has
# a crash's shape (r_zeroish: zeros where a cut write did not reach the disk;
# half a footer of zeros), or nothing but zeros follows it to the end of the
# file (a torn tail: a crash mid-append, or the zeros written ahead). A record whose header
# checks out is trusted for its length: a resync never starts inside one, so
# a value that holds bytes shaped like records is never read as records
# unless the header before it is damaged (DEVELOPERS.md).
# A segment that cannot be read stops a recovery loader with a message; in
# the compactor an I/O error is damage (r_unreadable) and any other failure
# (a segment gone meanwhile, no descriptor left) ends the scan.
# A scan starts at r_from (0 but for the scrubber, which reads a segment a
# part at a time) and, if r_until is set, stops at the first record boundary
# at or past it (r_stopped; 0 if it reached the end).
# Returns rax = the damage found (spans, records, I/O errors), or -1 if the
# compactor's scan did not read it all and found none. Clobbers the
# caller-saved registers.
.globl scan_segment, r_scrub, r_from, r_until, r_stopped, r_good, r_lax, r_cut_said, r_delete_at
scan_segment:
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov qword ptr [rip + r_callback], rdx
    mov qword ptr [rip + r_bad], -1
    mov qword ptr [rip + r_found], 0
    mov qword ptr [rip + r_good], 0
    mov qword ptr [rip + r_stopped], 0
    mov dword ptr [rip + r_wfail], 0
    mov dword ptr [rip + r_newer], 0
    mov dword ptr [rip + r_badmagic], 0
    mov qword ptr [rip + r_name], rdi
    mov qword ptr [rip + r_lax], 0
    mov r13, rsi
    shl r13, LOC_SEG_SHIFT
    mov rdi, rsi                          # a sealed segment was whole when sealed:
    call seg_entry                        # below where its records end, a crash's
    mov rax, qword ptr [rax + SG_SEAL_END]  # shapes are damage (seal.s)
    mov qword ptr [rip + r_strict], rax
    mov edx, O_RDONLY | O_CLOEXEC | O_NOFOLLOW
    cmp dword ptr [rip + r_scrub], 0      # the scrubber reads the disk, past the
    je 1f                                 # page cache (neither served from it nor
    or edx, O_DIRECT                      # evicting what GETs use)
1:  mov rsi, qword ptr [rip + r_name]
    mov edi, dword ptr [rip + dir_fd]
    xor r10d, r10d
    mov eax, SYS_openat
    syscall
    cmp rax, -EINVAL                      # (a file system without O_DIRECT: tmpfs)
    jne 2f
    test edx, O_DIRECT
    jz 2f
    and edx, ~O_DIRECT
    jmp 1b
2:  test rax, rax
    js .Lrs_cannot_open
    mov dword ptr [rip + r_fd], eax
    mov edi, eax
    lea rsi, [rip + w_stat]
    mov eax, SYS_fstat
    syscall
    test rax, rax
    js .Lrs_cannot_stat
    mov r14, qword ptr [rip + w_stat + ST_SIZE]
    mov qword ptr [rip + r_size], r14
    mov r15, qword ptr [rip + r_from]     # the record's offset
    mov qword ptr [rip + r_wn], 0
.Lrs_record:
    mov rax, qword ptr [rip + r_until]    # a scan of a part (the scrubber's) stops
    test rax, rax                         # at the first record boundary past it,
    jz 1f                                 # outside a damaged span
    cmp r15, rax
    jb 1f
    cmp qword ptr [rip + r_bad], -1
    jne 1f
    mov qword ptr [rip + r_stopped], r15
    jmp .Lrs_end
1:  mov rdi, r15
    mov esi, REC_HDR
    call r_window
    cmp rdx, REC_HDR
    jb .Lrs_end                           # (a damaged span open here: a torn tail)
    mov r12, rax                          # the record, as far as the window goes
    mov eax, dword ptr [r12 + REC_MAGIC]
    xor ecx, ecx                          # the header CRC's start: v1's 0, v2's
    mov edx, REC_MAGIC_V2                 # its magic, and the other one's, tried
    cmp eax, REC_MAGIC_V1                 # if the first fails (a v2 header under a
    je 2f                                 # v1 magic is damage: r_badmagic)
    xchg ecx, edx
    cmp eax, REC_MAGIC_V2
    je 2f
    xchg ecx, edx
    cmp qword ptr [rip + r_bad], -1       # in a damaged span only our own magic
    jne .Lrs_bad                          # counts (a newer one there is noise)
    mov esi, eax                          # "AKV3" to "AKV9": a newer asmkv wrote
    and esi, 0xffffff                     # it, and we must not guess (anything
    cmp esi, REC_MAGIC_V1 & 0xffffff      # else is a torn tail or damage)
    jne .Lrs_bad
    shr eax, 24
    cmp eax, '3'
    jb .Lrs_bad
    cmp eax, '9'
    ja .Lrs_bad
    cmp dword ptr [rip + r_loader], 0     # at run time a sealed segment is ours:
    je .Lrs_bad                           # a newer magic there is damage
    mov dword ptr [rip + r_newer], 1      # at a start: a newer format, unless the
2:  mov dword ptr [rip + r_seed], ecx     # rest is a v1 or v2 header that checks
    mov dword ptr [rip + r_seed2], edx    # out (its magic damaged: REC_HCRC does
                                          # not cover it)
    mov eax, dword ptr [r12 + REC_KLEN]
    test eax, eax
    jz .Lrs_bad
    cmp eax, NAME_MAX
    ja .Lrs_bad
    mov ecx, dword ptr [r12 + REC_TYPE]
    cmp ecx, REC_PUT
    je 1f
    cmp ecx, REC_DEL
    jne .Lrs_bad
1:  mov rcx, MAX_BODY_LIMIT
    cmp qword ptr [r12 + REC_VLEN], rcx
    ja .Lrs_bad
    mov rdi, r15
    lea rsi, [rax + REC_HDR]
    call r_window
    mov r12, rax
    mov eax, dword ptr [r12 + REC_KLEN]
    lea rcx, [rax + REC_HDR]
    cmp rdx, rcx
    jb .Lrs_bad                           # (the file ends in it)
    mov edi, dword ptr [rip + r_seed]
    lea rsi, [r12 + 8]
    lea rdx, [rax + REC_HDR - 8]
    call crc32c
    cmp eax, dword ptr [r12 + REC_HCRC]
    je 6f
    mov eax, dword ptr [r12 + REC_KLEN]   # the other format's header under this
    mov edi, dword ptr [rip + r_seed2]    # magic: a damaged magic
    lea rsi, [r12 + 8]
    lea rdx, [rax + REC_HDR - 8]
    call crc32c
    cmp eax, dword ptr [r12 + REC_HCRC]
    jne .Lrs_bad
    mov dword ptr [rip + r_newer], 1
6:  cmp dword ptr [rip + r_newer], 0      # a header of ours under a damaged magic:
    je 5f                                 # a damaged record, reported below (a
    mov dword ptr [rip + r_newer], 0      # flipped magic is never a crash's shape)
    mov dword ptr [rip + r_badmagic], 1
5:  cmp qword ptr [rip + r_bad], -1       # a span no record could be read in
    je 3f                                 # ends here
    mov rdi, qword ptr [rip + r_bad]
    mov qword ptr [rip + r_bad], -1
    mov rsi, r15
    call r_span
    jmp .Lrs_record                       # (the header again: the window moved)
3:  # the header is sound: keep what we need of it, the window may move
    mov eax, dword ptr [r12 + REC_HCRC]
    mov dword ptr [rip + r_hcrc], eax
    mov eax, dword ptr [r12 + REC_TYPE]
    mov dword ptr [rip + r_type], eax
    mov ecx, dword ptr [r12 + REC_KLEN]
    mov qword ptr [rip + r_klen], rcx
    mov rax, qword ptr [r12 + REC_VLEN]
    mov qword ptr [rip + r_vlen], rax
    mov rax, qword ptr [r12 + REC_TIME]   # (the header's CRC covers it)
    mov qword ptr [rip + r_time], rax
    lea rdi, [rip + r_key]
    lea rsi, [r12 + REC_HDR]
    mov rdx, rcx
    call copy
    mov rdi, qword ptr [rip + r_klen]
    mov rsi, qword ptr [rip + r_vlen]
    call rec_len
    mov rbx, rax                          # the record's length
    mov rcx, r14
    sub rcx, r15
    cmp rbx, rcx
    ja .Lrs_end                           # it runs past the end of the file: torn
    cmp rbx, SCAN_CHUNK                   # (a damaged magic too: its footer gives
    ja .Lrs_large                         # its number)
    mov rdi, r15
    mov rsi, rbx
    call r_window
    cmp rdx, rbx
    jb .Lrs_end
    mov r12, rax
    mov rcx, qword ptr [rip + r_klen]
    lea rsi, [r12 + rcx + REC_HDR]
    xor edi, edi
    mov rdx, qword ptr [rip + r_vlen]
    call crc32c
    lea r12, [r12 + rbx - FT_SIZE]        # the footer
    jmp .Lrs_footer
.Lrs_large:                               # the value, a window at a time
    mov r12, qword ptr [rip + r_klen]
    lea r12, [r15 + r12 + REC_HDR]        # where the value's bytes are
    mov rax, qword ptr [rip + r_vlen]
    mov qword ptr [rip + r_left], rax
    xor eax, eax
2:  mov dword ptr [rip + r_crc], eax
    mov rsi, qword ptr [rip + r_left]
    test rsi, rsi
    jz 3f
    cmp rsi, SCAN_CHUNK
    jbe 4f
    mov esi, SCAN_CHUNK
4:  mov qword ptr [rip + r_chunk], rsi
    mov rdi, r12
    call r_window
    mov rsi, qword ptr [rip + r_chunk]
    cmp rdx, rsi
    jb .Lrs_end                           # (the file ends in it)
    add r12, rsi
    sub qword ptr [rip + r_left], rsi
    mov edi, dword ptr [rip + r_crc]
    mov rdx, rsi
    mov rsi, rax
    call crc32c
    jmp 2b
3:  lea rdi, [r15 + rbx - FT_SIZE]        # the footer, kept (the window may move)
    mov esi, FT_SIZE
    call r_window
    cmp rdx, FT_SIZE
    jb .Lrs_end
    mov rcx, qword ptr [rax]
    mov rdx, qword ptr [rax + 8]
    lea r12, [rip + r_ft]
    mov qword ptr [r12], rcx
    mov qword ptr [r12 + 8], rdx
    mov eax, dword ptr [rip + r_crc]
.Lrs_footer:                              # eax = CRC of the value, r12 = footer
    mov edi, eax
    mov rsi, r12
    mov edx, 8
    call crc32c
    mov edi, eax
    lea rsi, [rip + r_hcrc]
    mov edx, 4
    call crc32c
    cmp eax, dword ptr [r12 + FT_CRC]
    jne .Lrs_unsealed
    cmp dword ptr [r12 + FT_MAGIC], FT_MAGIC_V1
    jne .Lrs_unsealed
    cmp dword ptr [rip + r_badmagic], 0
    jne .Lrs_badmagic
    inc qword ptr [rip + r_good]
    mov rax, qword ptr [r12 + FT_SEQ]
    mov qword ptr [rip + r_seq], rax
    mov qword ptr [rip + r_delete_at], 0  # a v2 put's expiry (the footer's CRC,
    cmp dword ptr [rip + r_seed], REC_MAGIC_V2  # just checked, covers it)
    jne 7f
    mov rdi, qword ptr [rip + r_klen]
    lea rdi, [r15 + rdi + REC_HDR + MP_DELETE_AT]
    mov esi, 8
    call r_window                         # (the footer is not needed again)
    cmp rdx, 8
    jb 7f
    mov rax, qword ptr [rax]
    mov qword ptr [rip + r_delete_at], rax
7:
    mov rdi, r13
    or rdi, r15
    cmp dword ptr [rip + r_type], REC_DEL
    jne 6f
    mov rcx, LOC_TOMB
    or rdi, rcx
6:  cmp r15, LOC_OFF_MASK
    ja .Lrs_far                           # no asmkv writes a record there
    mov rsi, rbx
    call loc_sized
    mov rdi, rax
    mov rsi, rbx
    call qword ptr [rip + r_callback]
.Lrs_next:
    add r15, rbx
    jmp .Lrs_record
.Lrs_unsealed:                            # r12 = its footer
    cmp dword ptr [rip + r_badmagic], 0
    jne .Lrs_badmagic
    cmp qword ptr [r12], 0                # given up and marked so (seg_release):
    jne 1f                                # dead space, in any segment
    cmp dword ptr [r12 + FT_CRC], 0
    jne 1f
    cmp dword ptr [r12 + FT_MAGIC], FT_MAGIC_REL
    je .Lrs_next
1:  mov rax, qword ptr [r12]              # (kept: the window may move)
    mov rcx, qword ptr [r12 + 8]
    lea r12, [rip + r_ft]
    mov qword ptr [r12], rax
    mov qword ptr [r12 + 8], rcx
    cmp r15, qword ptr [rip + r_strict]   # in a segment whole when sealed, no
    jb .Lrs_badmagic                      # crash's shape: damage (zeros too)
    or rax, rcx
    jz .Lrs_lax                           # all zeros: never sealed, dead space
    lea rdi, [r15 + rbx]
    call r_rest_zero
    test eax, eax
    jnz .Lrs_end                          # nothing after it: a torn tail (its pages
    cmp qword ptr [r12], 0                # reached the disk in any order)
    je .Lrs_lax                           # half a footer: torn too (a crash cut the
    cmp qword ptr [r12 + 8], 0            # footer's write, or it straddles a sector)
    je .Lrs_lax
    mov rdi, r15
    lea rsi, [r15 + rbx]
    call r_zeroish
    test eax, eax
    jnz .Lrs_lax                          # a sector of zeros in it: a write a crash cut
    jmp .Lrs_badmagic                     # else damage in its value or footer
.Lrs_lax:                                 # a crash's shape taken for one: a seal
    inc qword ptr [rip + r_lax]           # would be a lie (hint_write)
    jmp .Lrs_next
.Lrs_badmagic:                            # (or its magic): never believed, but its
    mov dword ptr [rip + r_badmagic], 0   # key is known; r12 = its footer
    mov rdi, r15
    mov rsi, rbx
    mov edx, 1
    call r_report
    mov rdx, qword ptr [r12 + FT_SEQ]     # its number, if believable: the footer's
    mov rax, qword ptr [rip + r_time]     # CRC may have failed on it, and one set
    add rax, SEQ_AHEAD                    # too high would hide a newer intact write
    shl rax, SEQ_TIME_SHIFT               # (far ahead of the record's own time: not
    cmp rdx, rax                          # believed, and no key made 500)
    ja .Lrs_next
    mov rdi, r15
    mov rsi, rbx
    call r_damaged_key
    jmp .Lrs_next
.Lrs_bad:                                 # no record starts at r15
    cmp dword ptr [rip + r_newer], 0      # (a newer magic, and no header of ours
    je 1f                                 # after it: a newer asmkv's record, but
    mov dword ptr [rip + r_newer], 0      # below a seal, where this asmkv wrote
    cmp r15, qword ptr [rip + r_strict]   # what is there: damage)
    jae .Lrs_newer
1:
    cmp qword ptr [rip + r_bad], -1
    jne 1f
    mov qword ptr [rip + r_bad], r15
1:  add r15, REC_ALIGN
    cmp r15, LOC_OFF_MASK                 # no asmkv record starts past there: the
    ja .Lrs_end                           # rest is a tail (the search is bounded)
    jmp .Lrs_record
.Lrs_end:
    cmp qword ptr [rip + r_stopped], 0    # the file (or a damaged span) ended before
    jne 1f                                # the records of a segment whole when its
    cmp dword ptr [rip + r_wfail], 0      # seal was made: cut, or torn since (a scan
    jne 1f                                # that stopped early or could not read
    cmp dword ptr [rip + r_cut_said], 0   # says nothing of it; hint_load said a
    jne 1f                                # cut already)
    mov rdi, qword ptr [rip + r_bad]      # says nothing of it)
    cmp rdi, -1
    jne 2f
    mov rdi, r15
2:  mov rsi, qword ptr [rip + r_strict]
    cmp rdi, rsi
    jae 1f
    sub rsi, rdi
    xor edx, edx
    call r_report
1:  mov edi, dword ptr [rip + r_fd]
    mov eax, SYS_close
    syscall
    mov rax, qword ptr [rip + r_found]
    test rax, rax
    jnz 1f
    cmp dword ptr [rip + r_wfail], 0      # a read failed, not as damage: the scan
    je 1f                                 # did not see it all
    mov rax, -1
1:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lrs_cannot_stat:
    push rax
    mov edi, dword ptr [rip + r_fd]
    mov eax, SYS_close
    syscall
    pop rax
.Lrs_cannot_open:
    cmp dword ptr [rip + r_loader], 0
    jne .Lrs_fatal
    mov rcx, rax                          # the compactor: an I/O error is damage
    mov rax, -1                           # (said, the segment kept); anything else
    cmp rcx, -EIO                         # (gone meanwhile, out of descriptors) is
    jne 2f                                # not read this time
    mov edi, ecx
    call r_unreadable
    mov rax, qword ptr [rip + r_found]
2:  pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
.Lrs_fatal:
    lea rdi, [rip + err_seg_read]
    mov esi, OFFSET err_seg_read_len
    mov rdx, qword ptr [rip + r_name]
    mov ecx, eax
    neg ecx
    call fatal
.Lrs_newer:
    lea rdi, [rip + err_seg_newer]
    mov esi, OFFSET err_seg_newer_len
    mov rdx, qword ptr [rip + r_name]
    xor ecx, ecx
    call fatal
.Lrs_far:
    cmp dword ptr [rip + r_loader], 0     # the compactor: damage (a record found
    jne 1f                                # past where asmkv writes them), the rest
    mov rdi, r15                          # of the segment with it
    mov rsi, qword ptr [rip + r_size]
    sub rsi, r15
    xor edx, edx
    call r_report
    jmp .Lrs_end
1:  lea rdi, [rip + err_seg_far]
    mov esi, OFFSET err_seg_far_len
    mov rdx, qword ptr [rip + r_name]
    xor ecx, ecx
    call fatal
.Lrs_full:
    lea rdi, [rip + err_no_index]
    mov esi, OFFSET err_no_index_len
    xor edx, edx
    mov ecx, ENOMEM
    call fatal

# r_unreadable: (compactor) edi = -errno of a failed open, stat or read of
# the segment being scanned (its id in scan_segment's r13). Counts it as
# damage (r_found, IX_DAMAGED), marks the segment (SGF_DAMAGED: kept, not
# taken again) and says it. Clobbers the caller-saved registers.
r_unreadable:
    push rbx
    mov ebx, edi
    inc qword ptr [rip + r_found]
    mov rax, qword ptr [rip + ix_base]
    lock inc qword ptr [rax + IX_DAMAGED]
    mov rdi, r13
    shr rdi, LOC_SEG_SHIFT
    call seg_entry
    lock or dword ptr [rax + SG_FLAGS], SGF_DAMAGED
    lea rdi, [rip + m_unreadable]
    mov esi, OFFSET m_unreadable_len
    mov rdx, qword ptr [rip + r_name]
    mov ecx, ebx
    neg ecx
    call log_line
    pop rbx
    ret

# r_report: rdi = where damage begins in the segment being scanned (its id in
# scan_segment's r13, its name in r_name), rsi = its length, edx = 1 if it is
# one record whose header (key in r_key) checks out, 0 for a span no record
# could be read in, 2 for the part of a segment cut off (hint_load).
# Counts it (r_found; IX_DAMAGED and IX_DAMAGED_BYTES, for the metrics), marks
# the segment (SGF_DAMAGED) and says it in the error log:
#   MESSAGE: 12.seg at 123456, 1104 bytes[, key KEY]
# Clobbers the caller-saved registers.
r_report:
    push rbx
    push r12
    sub rsp, R_DETAIL + 8                 # the detail: a name, two numbers, a key
    mov rbx, rdi
    mov r12, rsi
    mov dword ptr [rsp + R_DETAIL], edx
    inc qword ptr [rip + r_found]
    mov rax, qword ptr [rip + ix_base]
    lock inc qword ptr [rax + IX_DAMAGED]
    lock add qword ptr [rax + IX_DAMAGED_BYTES], rsi
    mov rdi, r13                          # the segment keeps its place from now on,
    shr rdi, LOC_SEG_SHIFT                # even if this scan dies before its end
    call seg_entry                        # (and is not counted again by another)
    lock or dword ptr [rax + SG_FLAGS], SGF_DAMAGED
    mov rdi, qword ptr [rip + r_name]
    call cstr_len
    mov rdx, rax
    cmp rdx, SEG_NAME_CAP
    jbe 1f
    mov edx, SEG_NAME_CAP
1:  mov rdi, rsp
    mov rsi, qword ptr [rip + r_name]
    call copy
    lea rsi, [rip + r_at]
    mov rdi, rax
    mov edx, OFFSET r_at_len
    call copy
    mov rdi, rax
    mov rsi, rbx
    call fmt_u64
    lea rsi, [rip + r_comma]
    mov rdi, rax
    mov edx, OFFSET r_comma_len
    call copy
    mov rdi, rax
    mov rsi, r12
    call fmt_u64
    lea rsi, [rip + r_bytes]
    mov rdi, rax
    mov edx, OFFSET r_bytes_len
    call copy
    lea rsi, [rip + m_damaged_span]
    mov ecx, OFFSET m_damaged_span_len
    cmp dword ptr [rsp + R_DETAIL], 2
    jne 3f
    lea rsi, [rip + m_damaged_cut]
    mov ecx, OFFSET m_damaged_cut_len
    jmp 2f
3:  cmp dword ptr [rsp + R_DETAIL], 0
    je 2f
    lea rsi, [rip + r_key_is]
    mov rdi, rax
    mov edx, OFFSET r_key_is_len
    call copy
    mov rdi, rax
    lea rsi, [rip + r_key]
    mov rdx, qword ptr [rip + r_klen]     # (at most NAME_MAX: its header said so)
    call copy
    lea rsi, [rip + m_damaged_rec]
    mov ecx, OFFSET m_damaged_rec_len
2:  mov byte ptr [rax], 0
    mov rdi, rsi
    mov esi, ecx
    mov rdx, rsp
    xor ecx, ecx
    call log_line
    add rsp, R_DETAIL + 8
    pop r12
    pop rbx
    ret

# r_damaged_key: rdi = the offset of a damaged record in the segment being
# scanned (scan_segment's r13) whose header checks out (its key in r_key,
# its type in r_type), rsi = its length, rdx = the sequence number its footer
# gives (perhaps damaged itself). Its key must not answer an older value as
# if it were the newest: a loader puts LOC_DAMAGED in the index at that
# number (unless no asmkv could have handed it out: 0, or SEQ_BOGUS and up),
# counted as a record of the key (it stays on disk: its segment is never
# compacted); compaction and the scrubber, in a running server, move the key
# to LOC_DAMAGED if the index names exactly this record. Either way GETs
# answer R_500_DAMAGED until the key is written again.
# Clobbers the caller-saved registers.
r_damaged_key:
    push rbx
    push r12
    push r14
    mov rbx, rdx
    or rdi, r13
    cmp dword ptr [rip + r_type], REC_DEL
    jne 1f
    mov rcx, LOC_TOMB                     # a delete is named with its bit
    or rdi, rcx
1:  call loc_sized                        # the LOC as the index would name it
    mov r12, rax
    cmp dword ptr [rip + r_loader], 0
    je 4f
    mov rdi, rbx
    call r_damaged_publish
    jmp 9f
4:  lea rdi, [rip + r_key]
    mov rsi, qword ptr [rip + r_klen]
    call index_lookup
    test rax, rax
    jz 9f
    mov r14, rax
    mov rdi, rax
    call index_state
    mov rcx, rdx
    btr rcx, LOC_CLAIM_BIT
    cmp rcx, r12
    jne 9f                                # a newer write, or an older record
    mov rdi, r14
    mov rsi, rax
    mov rdx, r12
    mov rcx, LOC_DAMAGED
    call index_move
    test eax, eax
    jz 9f
    bt r12, LOC_TOMB_BIT                  # a delete's place taken by LOC_DAMAGED: the
    jnc 9f                                # key counts as one with a value, as a
    mov rax, qword ptr [rip + ix_base]    # loader's LOC_DAMAGED does (IX_KEYS)
    lock inc qword ptr [rax + IX_KEYS]
9:  pop r14
    pop r12
    pop rbx
    ret

# r_damaged_publish: (loader) rdi = the sequence number of a damaged record
# of the key in r_key (perhaps damaged itself). Puts LOC_DAMAGED in the index
# at that number, counted as a record of the key (as r_damaged_key says),
# unless no asmkv could have handed it out (0, or SEQ_BOGUS and up).
# Clobbers the caller-saved registers.
.globl r_damaged_publish
r_damaged_publish:
    push rbx
    mov rbx, rdi
    test rbx, rbx
    jz 9f
    mov rax, SEQ_BOGUS
    cmp rbx, rax
    jae 9f
    mov rdx, qword ptr [rip + ix_base]    # the next writes come after it (as
    mov rax, qword ptr [rdx + IX_SEQ]     # recover_record)
2:  cmp rax, rbx
    jae 3f
    lock cmpxchg qword ptr [rdx + IX_SEQ], rbx
    jne 2b
3:  lea rdi, [rip + r_key]
    mov rsi, qword ptr [rip + r_klen]
    call index_node
    test rax, rax
    js .Lrs_full                          # (as recover_record: the start stops)
    mov rdi, rax
    mov rsi, rbx
    mov rdx, LOC_DAMAGED
    xor ecx, ecx
    call index_publish
    mov rsi, LOC_DAMAGED
    call pub_count
9:  pop rbx
    ret

# r_span: rdi = where a span no record could be read in begins, rsi = where
# the next record that checks out begins. Damage (r_report), unless its
# shape is a crash's (r_zeroish). Clobbers the caller-saved registers.
r_span:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    cmp rdi, qword ptr [rip + r_strict]   # a segment whole when sealed: no crash's
    jb 2f                                 # shape below where its records end
    lea rsi, [rdi + REC_HDR]              # a header of zeros: a cut write's (rot
    cmp rsi, r12                          # does not zero a header), even where no
    cmova rsi, r12                        # whole sector of zeros follows it
    call r_zero_range
    test eax, eax
    jnz 1f
    mov rdi, rbx
    mov rsi, r12
    call r_zeroish
    test eax, eax
    jnz 1f
2:  mov rdi, rbx
    mov rsi, r12
    sub rsi, rbx
    xor edx, edx
    call r_report
    jmp 3f
1:  inc qword ptr [rip + r_lax]           # (a crash's shape: no seal, hint_write)
3:  add rsp, 8
    pop r12
    pop rbx
    ret

# r_zeroish: rdi = from, rsi = to, offsets in the segment being scanned.
# Returns eax = 1 if the bytes between are what a crash, not a disk, leaves:
# all zeros, or a whole 512-byte sector of zeros among them (a segment is
# written over zeros, so a write a crash cut short leaves zeros where its
# pages or sectors did not reach the disk; a bit that rots is not zero).
# Moves the window. Clobbers the caller-saved registers.
r_zeroish:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
    call r_zero_range
    test eax, eax
    jnz 9f
    add rbx, 511                          # each whole sector between them
    and rbx, -512
1:  lea rsi, [rbx + 512]
    cmp rsi, r12
    ja 8f
    mov rdi, rbx
    call r_zero_range
    test eax, eax
    jnz 9f
    add rbx, 512
    jmp 1b
8:  xor eax, eax
9:  add rsp, 8
    pop r12
    pop rbx
    ret

# r_rest_zero: rdi = an offset in the segment being scanned. Returns eax = 1
# if every byte from there to the end of the file is zero (or there is
# none), else 0. Moves the window. Clobbers the caller-saved registers.
r_rest_zero:
    mov rsi, qword ptr [rip + r_size]
    # fall through

# r_zero_range: rdi = from, rsi = to. Returns eax = 1 if every byte of the
# segment between them (those the file has) is zero, else 0. Moves the
# window. Clobbers the caller-saved registers.
r_zero_range:
    push rbx
    push r12
    sub rsp, 8
    mov rbx, rdi
    mov r12, rsi
1:  cmp rbx, r12
    jae 3f
    mov rdi, rbx
    mov esi, 1
    call r_window
    mov rcx, r12
    sub rcx, rbx
    cmp rdx, rcx
    cmovb rcx, rdx                        # what the window holds of the range
    test rcx, rcx
    jz 3f                                 # (the file ends first)
    add rbx, rcx
    mov rdi, rax
    xor eax, eax
    repe scasb
    je 1b
    xor eax, eax
    jmp 4f
3:  mov eax, 1
4:  add rsp, 8
    pop r12
    pop rbx
    ret

# damage_stats: returns rax = damage found in the segments (r_report: spans
# and records), rdx = its bytes. Clobbers nothing else.
.globl damage_stats
damage_stats:
    mov rdx, qword ptr [rip + ix_base]
    mov rax, qword ptr [rdx + IX_DAMAGED]
    mov rdx, qword ptr [rdx + IX_DAMAGED_BYTES]
    ret

# r_read: pread_full's arguments and result (edi = fd, rsi = buffer, rdx =
# length, rcx = offset). The scrubber's (r_scrub set) are O_DIRECT reads, all
# aligned to SCAN_ALIGN, made in one call (a second, from where a short one
# ended at the end of the file, would not be aligned), and counted
# (IX_SCRUBBED). Clobbers the caller-saved registers.
r_read:
    cmp dword ptr [rip + r_scrub], 0
    je pread_full
    mov r10, rcx
1:  mov eax, SYS_pread64
    syscall
    cmp rax, -EINTR
    je 1b
    cmp rax, -EINVAL                      # O_DIRECT refused on this file system
    jne 3f                                # after all (an alignment above ours):
    cmp dword ptr [rip + r_scrub], 2      # this file is read through the cache
    je 3f                                 # (once: r_scrub 2)
    mov dword ptr [rip + r_scrub], 2
    push rsi
    push rdx
    mov esi, F_SETFL
    xor edx, edx
    mov eax, SYS_fcntl
    syscall
    pop rdx
    pop rsi
    test rax, rax
    jns 1b                                # (failed: the read's -EINVAL stands)
    mov rax, -EINVAL
3:  test rax, rax
    jle 2f
    mov rcx, qword ptr [rip + ix_base]
    lock add qword ptr [rcx + IX_SCRUBBED], rax
2:  ret

# r_window: rdi = offset in the segment being scanned, rsi = bytes wanted
# (at most SCAN_CHUNK). Returns rax = those bytes in memory, rdx = how many
# of the segment's bytes from there are in memory (fewer than wanted only at
# the end of the file). Reads SCAN_BUF at a time, from a multiple of SCAN_ALIGN. Clobbers the caller-saved registers.
r_window:
    cmp dword ptr [rip + r_wfail], 0      # (a read failed: nothing more is read)
    jne 6f
    mov rax, rdi
    sub rax, qword ptr [rip + r_wbase]
    jb 1f
    lea rcx, [rax + rsi]
    cmp rcx, qword ptr [rip + r_wn]
    ja 1f
    mov rdx, qword ptr [rip + r_wn]
    sub rdx, rax
    lea rcx, [rip + r_buf]
    add rax, rcx
    ret
1:  push rdi
    mov rcx, rdi                          # from the aligned offset at or before it,
    and rcx, -SCAN_ALIGN                  # all of SCAN_BUF (up to the file's end)
    mov qword ptr [rip + r_wbase], rcx
    mov edi, dword ptr [rip + r_fd]
    lea rsi, [rip + r_buf]
    mov edx, SCAN_BUF
    call r_read
    pop rdi
    test rax, rax
    jns 4f
    cmp dword ptr [rip + r_loader], 0     # recovery stops on what it cannot read;
    jne .Lrs_fatal                        # in the compactor (compaction, hints, the
    mov dword ptr [rip + r_wfail], 1      # scrubber) the scan ends here, as at the
    cmp rax, -EIO                         # end of the file (no read again), and an
    jne 5f                                # I/O error is damage: said, the segment
    push rdi                              # kept
    mov edi, eax
    call r_unreadable
    pop rdi
5:  xor eax, eax
4:  mov qword ptr [rip + r_wn], rax
    mov rcx, rdi
    sub rcx, qword ptr [rip + r_wbase]
    mov rdx, rax
    sub rdx, rcx
    jae 3f
    xor edx, edx                          # (the file ends before rdi)
3:  lea rax, [rip + r_buf]
    add rax, rcx
    ret
6:  xor edx, edx
    lea rax, [rip + r_buf]
    ret

.section .rodata
m_unreadable: .ascii "cannot read segment (kept as damaged; compaction and the scrubber go on with the others)"
.equ m_unreadable_len, . - m_unreadable
m_damaged_span: .ascii "damaged bytes in a segment: the records in them are lost (the records after them are kept)"
.equ m_damaged_span_len, . - m_damaged_span
m_damaged_rec: .ascii "a damaged record: its value is lost (its key answers 500 if it was its newest; write it again)"
.equ m_damaged_rec_len, . - m_damaged_rec
m_damaged_cut: .ascii "a damaged segment ends before the records its hint lists: those are lost (their keys answer 500 if they were the newest; write them again)"
.equ m_damaged_cut_len, . - m_damaged_cut
r_at:     .ascii " at "
.equ r_at_len, . - r_at
r_comma:  .ascii ", "
.equ r_comma_len, . - r_comma
r_bytes:  .ascii " bytes"
.equ r_bytes_len, . - r_bytes
r_key_is: .ascii ", key "
.equ r_key_is_len, . - r_key_is
err_no_crc:   .ascii "asmkv needs a CPU with SSE4.2 (its crc32 instruction checks every record)"
.equ err_no_crc_len, . - err_no_crc
err_no_index: .ascii "cannot make room for the index"
.equ err_no_index_len, . - err_no_index
err_loader:   .ascii "a recovery process was killed by signal"
.equ err_loader_len, . - err_loader
err_rfork:    .ascii "cannot start the recovery processes"
.equ err_rfork_len, . - err_rfork
err_rwait:    .ascii "cannot wait for the recovery processes"
.equ err_rwait_len, . - err_rwait
err_rfail:    .ascii "a recovery process failed"
.equ err_rfail_len, . - err_rfail
r_dot:        .asciz "."
err_scan_dir: .ascii "cannot list the data directory"
.equ err_scan_dir_len, . - err_scan_dir
err_seg_read: .ascii "cannot read segment"
.equ err_seg_read_len, . - err_seg_read
err_seg_newer: .ascii "a segment in a newer format than this asmkv reads (upgrade asmkv)"
.equ err_seg_newer_len, . - err_seg_newer
err_seg_far:   .ascii "a record starts beyond the 64 MiB a segment holds; not a segment this asmkv wrote"
.equ err_seg_far_len, . - err_seg_far

.bss
.p2align 12                         # (SCAN_ALIGN: O_DIRECT reads into it)
r_buf:    .space SCAN_BUF            # the window into the segment
r_key:    .space NAME_MAX + 1
.p2align 3
r_ft:     .space FT_SIZE
r_name:   .space 8                   # the segment being scanned
r_callback: .space 8                 # what scan_segment calls for each record
r_bad:    .space 8                   # where the damaged span being read began, -1: none
r_found:  .space 8                   # damage found in this segment (spans and records)
r_scrub:  .space 4                   # 1 while the scrubber scans: O_DIRECT, counted (r_read);
                                     # 2 once O_DIRECT was dropped for the file
.p2align 3
r_from:   .space 8                   # where a scan starts (a record boundary; 0 but for the scrubber)
r_until:  .space 8                   #   and after which it stops (0: at the end)
r_stopped: .space 8                  #   where it stopped, if it did before the end (else 0)
r_good:   .space 8                   # records that checked out in this scan
r_strict: .space 8                   # below this, a crash's shapes are damage
                                     #   (SG_SEAL_END: the segment was whole when sealed)
r_lax:    .space 8                   # shapes this scan took for what a crash leaves
r_delete_at: .space 8                # the record's expiry (a v2 put's MP_DELETE_AT), 0: none
r_time:   .space 8                   # the record's REC_TIME (its header checks out)
r_wfail:  .space 4                   # 1 once a read of this scan failed (the compactor's)
r_newer:  .space 4                   # 1 while a record that may be a newer format's is checked
r_badmagic: .space 4                 # 1: this record is v1, its magic damaged
r_cut_said: .space 4                 # (recovery) hint_load said this segment is cut
r_seed:   .space 4                   # the header CRC's start for this record's magic,
r_seed2:  .space 4                   #   and the other format's (tried if it fails)
.p2align 3
r_chunk:  .space 8                   # the large path's bytes from this window
r_maxid:  .space 8                   # the highest segment id seen
r_pids:   .space 4 * RECOVER_LOADERS # (master) the loaders forked, 0 = none
r_loader: .space 4                   # 1 in a loader: segments of its share are read
r_part:   .space 4                   # a loader's share: ids equal to it modulo
r_parts:  .space 4                   #   the number of loaders
r_signal: .space 24                  # (master) what killed a loader, in decimal
r_fail:   .space 4                   # (master) the first failure of recovery, RF_*, 0 = none
r_fail_arg: .space 4                 #   its signal or errno
r_mine:   .space 4                   #   1: the master says it (it claimed IX_LOAD_FAILED)
r_size:   .space 8
r_wbase:  .space 8                   # the window's offset in it
r_wn:     .space 8                   # bytes in the window
r_klen:   .space 8
r_vlen:   .space 8
r_left:   .space 8
r_seq:    .space 8
r_fd:     .space 4
r_hcrc:   .space 4
r_type:   .space 4
r_crc:    .space 4
.text
