# defs.s - every number the server uses, named once.
#
# Syntax: LLVM's Intel syntax (Rust's global_asm! default). A numeric .equ is an
# immediate; a label is an address, so take it with `lea reg, [rip + label]`
# or `OFFSET label`, never `mov reg, label` (that loads from it).

# ---- Linux x86-64 system call numbers -------------------------------------
.equ SYS_read, 0
.equ SYS_write, 1
.equ SYS_close, 3
.equ SYS_fstat, 5
.equ SYS_lseek, 8
.equ SYS_mmap, 9
.equ SYS_munmap, 11
.equ SYS_rt_sigaction, 13
.equ SYS_rt_sigprocmask, 14
.equ SYS_pread64, 17
.equ SYS_fcntl, 72
.equ F_SETFL, 4
.equ SYS_pwrite64, 18
.equ SYS_nanosleep, 35
.equ SYS_getpid, 39
.equ SYS_sendfile, 40
.equ SYS_socket, 41
.equ SYS_sendto, 44
.equ SYS_shutdown, 48
.equ SYS_bind, 49
.equ SYS_listen, 50
.equ SYS_getsockname, 51
.equ SYS_setsockopt, 54
.equ SYS_clone, 56
.equ SYS_fork, 57
.equ SYS_exit, 60
.equ SYS_wait4, 61
.equ SYS_kill, 62
.equ SYS_flock, 73
.equ SYS_fsync, 74
.equ SYS_fdatasync, 75
.equ SYS_ftruncate, 77
.equ SYS_getppid, 110
.equ SYS_rt_sigtimedwait, 128
.equ SYS_prctl, 157
.equ SYS_futex, 202
.equ SYS_sched_getaffinity, 204
.equ SYS_getdents64, 217
.equ SYS_clock_gettime, 228
.equ SYS_exit_group, 231
.equ SYS_epoll_wait, 232
.equ SYS_epoll_ctl, 233
.equ SYS_openat, 257
.equ SYS_mkdirat, 258
.equ SYS_newfstatat, 262
.equ SYS_unlinkat, 263
.equ SYS_renameat, 264
.equ SYS_timerfd_create, 283
.equ SYS_timerfd_settime, 286
.equ SYS_accept4, 288
.equ SYS_signalfd4, 289
.equ SYS_eventfd2, 290
.equ SYS_epoll_create1, 291
.equ SYS_dup3, 292
.equ SYS_prlimit64, 302
.equ SYS_getrandom, 318
.equ SYS_memfd_create, 319
.equ SYS_copy_file_range, 326

# ---- errno values (syscalls return -errno) --------------------------------
.equ EPERM, 1
.equ ENOENT, 2
.equ EINTR, 4
.equ EIO, 5
.equ ECHILD, 10
.equ EAGAIN, 11
.equ EWOULDBLOCK, 11
.equ ENOMEM, 12
.equ EACCES, 13
.equ EEXIST, 17
.equ ENOTDIR, 20
.equ EISDIR, 21
.equ EINVAL, 22
.equ ENFILE, 23
.equ EMFILE, 24
.equ EFBIG, 27
.equ ENOSPC, 28
.equ EROFS, 30
.equ EADDRINUSE, 98
.equ EADDRNOTAVAIL, 99
.equ ECONNABORTED, 103
.equ EDQUOT, 122

# ---- flags and ABI constants -----------------------------------------------
.equ STDOUT, 1
.equ STDERR, 2
.equ AT_FDCWD, -100
.equ O_RDONLY, 0
.equ O_WRONLY, 1
.equ O_RDWR, 2
.equ O_CREAT, 0x40
.equ O_EXCL, 0x80
.equ O_NOFOLLOW, 0x20000
.equ O_DIRECT, 0x4000
.equ O_DIRECTORY, 0x10000
.equ O_CLOEXEC, 0x80000
.equ O_NONBLOCK, 0x800
.equ AT_SYMLINK_NOFOLLOW, 0x100
.equ SEEK_SET, 0
.equ LOCK_EX_NB, 6               # LOCK_EX | LOCK_NB
.equ SHUT_WR, 1
.equ S_IFMT, 0xf000
.equ S_IFREG, 0x8000
.equ PAGE_SIZE, 4096      # (x86-64)
.equ PROT_READ, 1
.equ PROT_RW, 3
.equ MAP_PRIVATE, 2
.equ O_TRUNC, 0x200
.equ O_APPEND, 0x400
.equ MAP_PRIVATE_ANON_NORESERVE, 0x4022   # MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE
.equ MAP_SHARED, 1
.equ MFD_CLOEXEC, 1
.equ AF_INET, 2
.equ AF_INET6, 10
.equ SOCK_STREAM, 1
.equ SOCK_NONBLOCK, 0x800
.equ SOCK_CLOEXEC, 0x80000
.equ SOL_SOCKET, 1
.equ SO_REUSEADDR, 2
.equ IPPROTO_TCP, 6
.equ TCP_NODELAY, 1
.equ LISTEN_BACKLOG, 4096
.equ MSG_NOSIGNAL, 0x4000
.equ MSG_MORE, 0x8000
.equ EPOLL_CLOEXEC, 0x80000
.equ EPOLL_CTL_ADD, 1
.equ EPOLL_CTL_DEL, 2
.equ EPOLLIN, 0x1
.equ EPOLLOUT, 0x4
.equ EPOLLERR, 0x8
.equ EPOLLHUP, 0x10
.equ EPOLLRDHUP, 0x2000
.equ EPOLLEXCLUSIVE, 0x10000000
.equ EPOLLET, 0x80000000
.equ EPOLL_EVENT_SIZE, 12        # packed: u32 events, u64 data
.equ EV_EVENTS, 0
.equ EV_DATA, 4
.equ MAX_EVENTS, 256
.equ SIG_DFL, 0
.equ SIG_IGN, 1
.equ SIGINT, 2
.equ SIGKILL, 9
.equ SIGUSR1, 10
.equ SIGPIPE, 13
.equ SIGTERM, 15
.equ SIGCHLD, 17
.equ SIG_BLOCK, 0
.equ SIGSET_SIZE, 8
.equ STOP_SIGNALS, (1 << (SIGINT - 1)) | (1 << (SIGTERM - 1))
.equ REOPEN_SIGNAL, 1 << (SIGUSR1 - 1)  # reopen the access log
.equ WORKER_SIGNALS, STOP_SIGNALS | REOPEN_SIGNAL
.equ MASTER_SIGNALS, STOP_SIGNALS | REOPEN_SIGNAL | (1 << (SIGCHLD - 1))
.equ SFD_NONBLOCK, 0x800
.equ SFD_CLOEXEC, 0x80000
.equ SIGNALFD_INFO_SIZE, 128
.equ TFD_NONBLOCK, 0x800
.equ TFD_CLOEXEC, 0x80000
.equ TFD_TIMER_ABSTIME, 1
.equ CLOCK_REALTIME, 0
.equ CLOCK_MONOTONIC, 1
.equ EFD_NONBLOCK, 0x800
.equ EFD_CLOEXEC, 0x80000
# a thread: shared memory, files, fs info and signal handling, same process
.equ CLONE_THREAD_FLAGS, 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000
.equ FUTEX_WAIT_PRIVATE, 0 | 128  # FUTEX_WAIT | FUTEX_PRIVATE_FLAG: one process's threads
.equ FUTEX_WAKE_PRIVATE, 1 | 128
# the vDSO, an ELF shared object the kernel maps into every process (vdso.s)
.equ AT_SYSINFO_EHDR, 33         # auxiliary vector: the vDSO's ELF header
.equ ELF_MAGIC, 0x464c457f       # "\x7fELF"
.equ EH_CLASS, 4                 # Elf64_Ehdr: u8 EI_CLASS
.equ ELFCLASS64, 2
.equ EH_PHOFF, 0x20              #   u64 program headers' offset
.equ EH_PHENTSIZE, 0x36          #   u16 a program header's size
.equ EH_PHNUM, 0x38              #   u16 how many
.equ PH_TYPE, 0                  # Elf64_Phdr: u32 p_type
.equ PH_OFFSET, 8                #   u64 p_offset
.equ PH_VADDR, 16                #   u64 p_vaddr
.equ PT_LOAD, 1
.equ PT_DYNAMIC, 2
.equ DT_HASH, 4                  # Elf64_Dyn tags (u64 tag, u64 value)
.equ DT_STRTAB, 5
.equ DT_SYMTAB, 6
.equ SYM_NAME, 0                 # Elf64_Sym: u32 st_name
.equ SYM_SHNDX, 6                #   u16 st_shndx, 0 = undefined
.equ SYM_VALUE, 8                #   u64 st_value
.equ SYM_SIZE, 24
.equ SIGINFO_SIZE, 128
.equ WNOHANG, 1
.equ PR_SET_PDEATHSIG, 1
.equ RLIMIT_NOFILE, 7
.equ STAT_SIZE, 144
.equ ST_MODE, 24                 # struct stat: u32 st_mode
.equ ST_SIZE, 48                 # struct stat: i64 st_size
.equ ST_MTIME, 88                # struct stat: st_mtim, i64 seconds then i64 nanoseconds
.equ ST_CTIME, 104               # struct stat: st_ctim, the same
.equ ST_INO, 8                   # struct stat: u64 st_ino
.equ DIRENT_RECLEN, 16           # struct linux_dirent64: u16 d_reclen
.equ DIRENT_NAME, 19             # struct linux_dirent64: char d_name[]
.equ SOCKADDR_IN_SIZE, 16        # u16 family, u16 port (BE), u32 addr (BE), 8 zero
.equ SOCKADDR_IN6_SIZE, 28       # u16 family, u16 port (BE), u32 flow, 16 addr, u32 scope
.equ IPV6_TEXT_MAX, 39           # 8 groups of 4 digits and 7 colons

# ---- characters --------------------------------------------------------------
.equ HT, 9
.equ LF, 10
.equ CR, 13
.equ SPACE, 32

# ---- server limits and defaults ----------------------------------------------
.equ DEFAULT_PORT, 8080
.equ LOOPBACK_ADDR, 0x0100007f   # 127.0.0.1 as stored in memory (network order)
.equ DEFAULT_ADDR, LOOPBACK_ADDR
.equ DEFAULT_MAX_BODY, 1 << 30   # 1 GiB
.equ MAX_BODY_LIMIT, 1 << 60     # keeps every size sum far from overflow
.equ MAX_WORKERS, 256
.equ RECOVER_LOADERS, 64           # processes that fill the index at startup, at most
.equ MAX_CHILDREN, MAX_WORKERS + 1 # the workers and the compactor
.equ MAX_FDS, 65536              # connection table slots, indexed by fd
.equ NAME_MAX, 255               # longest file name, so longest encoded key
.equ HEAD_MAX, 16384             # request line + headers; longer gets 431/414
.equ MAX_HEADERS, 128            # more header fields gets 431 (90 of metadata, and the rest)
.equ CHUNK_LINE_MAX, 1024        # chunk-size line with extensions
.equ TRAILER_MAX, 8192           # all trailer fields of one chunked body
.equ SENDFILE_MAX, 1 << 21       # one sendfile call at most, so others get a turn
.equ DRIVE_BUDGET, 64            # socket syscalls per event before yielding
.equ EXIT_USAGE, 2               # bad flag or unusable environment at startup
.equ ACCEPT_BATCH, 1             # connections taken per wakeup of the listener
.equ LINGER_MAX, 1 << 20         # input discarded while lingering, at most
.equ DISCARD_MAX, 65536          # largest GET/HEAD/DELETE body dropped; larger closes
.equ FLUSHER_STACK, 65536        # the flusher thread's stack (commit.s)
.equ DATE_LEN, 29                # "Sun, 06 Nov 1994 08:49:37 GMT"
.equ DEFAULT_IDLE_TIMEOUT, 60    # no request in progress
.equ DEFAULT_REQUEST_TIMEOUT, 10 # from the first byte of a head to its end
.equ DEFAULT_IO_TIMEOUT, 30      # longest stall of a body or a response
.equ LINGER_TIMEOUT, 5           # draining input before a close
.equ MAX_TIMEOUT, 86400
.equ DEFAULT_SCRUB_RATE, 8     # MiB the scrubber reads a round, about a second (--scrub-rate; 0: none)
.equ MAX_SCRUB_RATE, 65536
.equ DEADLINE_SLACK, 2           # seconds added to a deadline on the coarse clock (worker.s)

# ---- segments, records and the index ----------------------------------------
# A record in a segment file, little-endian (segment.s):
#   header (REC_HDR bytes) | key (klen) | value (vlen) | zero pad to 8 | footer
# The header CRC covers header bytes 8.. and the key, so a record whose header
# checks out can be skipped by its length even if its value never arrived.
# The footer CRC covers the value, then the footer's sequence number, then the
# header CRC: a record counts only when both check out.
.equ REC_MAGIC, 0      # u32 REC_MAGIC_V1
.equ REC_HCRC, 4       # u32 CRC32C of bytes [8, REC_HDR + klen)
.equ REC_VLEN, 8       # u64 value bytes
.equ REC_KLEN, 16      # u32 key bytes (the encoded key, 1..NAME_MAX)
.equ REC_TYPE, 20      # u32 REC_PUT or REC_DEL
.equ REC_TIME, 24      # u64 Unix seconds when the write began
.equ REC_HDR, 32
.equ REC_ALIGN, 8     # records start (and their footers) on multiples of this
.equ FT_SEQ, 0         # u64 the write's place in the order of all writes
.equ FT_CRC, 8         # u32 CRC32C of value, FT_SEQ, then REC_HCRC
.equ FT_MAGIC, 12      # u32 FT_MAGIC_V1
.equ FT_SIZE, 16
.equ REC_MAGIC_V1, 0x31564b41    # "AKV1"
.equ REC_MAGIC_V2, 0x32564b41    # "AKV2": a put whose value region starts with its metadata;
                                 # its REC_HCRC starts from REC_MAGIC_V2, not 0 (a v1 record
                                 # whose magic a bit flip made "AKV2" must not check out)
# A v2 record's value region: MP_SIZE bytes of prefix, then the block (the
# header lines a GET answers with, "Name: value\r\n" each, then "\r\n"), then
# the value. FT_CRC covers all of it, MP_CRC the block alone (a GET checks it
# before it sends the block, whatever the value's size). meta.s builds it.
.equ MP_LEN, 0         # u32 bytes of the block
.equ MP_CRC, 4         # u32 CRC32C of MP_DELETE_AT and the block
.equ MP_DELETE_AT, 8   # u64 Unix seconds the value expires at, 0: never
.equ MP_SIZE, 16
.equ META_ITEMS_MAX, 90          # X-Object-Meta-* fields a write may carry (Swift's limits)
.equ META_BYTES_MAX, 4096        #   their names (after the prefix) and values, in all
.equ META_NAME_MAX, 128          #   one name, after the prefix
.equ META_VALUE_MAX, 1024        # a representation field's value (Content-Type ...), at most
.equ META_PREFIX_LEN, 14         # "x-object-meta-" (meta.s checks)
.equ META_DEFAULT_LEN, 40        # "Content-Type: application/octet-stream\r\n"
.equ DELETE_AT_MAX, 1 << 40      # the latest expiry taken (Unix seconds; year 36812)
.equ META_END_ROOM, META_DEFAULT_LEN + 2 + 40  # what meta_finish may add: a Content-Type, an
                                 # X-Delete-At line, the empty line
.equ HINT_F_EXPIRY, 1            # a hint's flags (its u32 after the magic): the segment expires puts
.equ META_CAP, 16384             # a block, its prefix and its end: 5 representation fields of
                                 # META_VALUE_MAX and 90 items in META_BYTES_MAX take under 12 KiB
.equ FT_MAGIC_V1, 0x444e4524     # "$END"
.equ FT_MAGIC_REL, 0x6c657221    # "!rel": a record given up (seg_release), FT_SEQ and FT_CRC
                                 # 0: dead space, where zeros would be damage in a sealed segment
.equ REC_PUT, 1
.equ REC_DEL, 2
.equ REC_SMALL, 4096             # records up to this size are written and read in one call
.equ REC_BUF, 65536              # a worker's record scratch buffer
# A LOC names a record, in 64 bits:
#   bit 63 LOC_TOMB (a delete) | bit 62 LOC_CLAIM | segment id (20 bits) |
#   the record's length / 8 (16 bits; 0 when it is too long for them) | offset (26 bits)
# A record starts below SEG_MAX in its segment (seg_reserve, compaction), so
# its offset fits; its length rides along so that counting the bytes a write
# makes dead needs no read (loc_len). LOC 0 is "never written" (segment ids
# start at 1).
.equ LOC_OFF_MASK, (1 << 26) - 1
.equ LOC_LEN_SHIFT, 26
.equ LOC_LEN_MAX, (1 << 16) - 1  # in units of 8 bytes, after the shift
.equ LOC_LEN_MASK, LOC_LEN_MAX << LOC_LEN_SHIFT
.equ LOC_SEG_SHIFT, 42
.equ LOC_TOMB_BIT, 63
.equ LOC_CLAIM_BIT, 62
.equ LOC_TOMB, 1 << LOC_TOMB_BIT
.equ LOC_CLAIM, 1 << LOC_CLAIM_BIT          # a conditional write holds the key until it is durable or
                                 # given up; the rest of the LOC is still the key's newest write
.equ LOC_SEG_MASK, (1 << 20) - 1 # segment id bits, after the shift
# A key whose newest record is damaged on disk, with its key still readable
# (recover.s: r_damaged_key): segment 0 (no segment has that id), so any
# LOC whose segment bits are 0 names no value that can be read; one unit
# long, so loc_len never reads it. GETs answer R_500_DAMAGED, listings pass
# it over, and the next write of the key replaces it.
.equ LOC_DAMAGED, (1 << LOC_LEN_SHIFT) | REC_ALIGN
.equ SEQ_BOGUS, 1 << 62          # no asmkv hands out a sequence number this high
.equ SEQ_AHEAD, 600              # seconds by which a write's number (<< SEQ_TIME_SHIFT) may be
                                 # ahead of its record's time (a clock set back): beyond it, a
                                 # number in a footer that fails its CRC is not believed
.equ SEG_ID_MAX, (1 << 20) - 1   # per-process descriptor table size
.equ SEG_MAX, 64 << 20           # a segment takes no new record once this long
.if SEG_MAX > LOC_OFF_MASK + 1
.error "a record's offset must fit in a LOC"
.endif
.equ SEG_STEP, 4 << 20           # segments are extended with written zeros this much at a time
.equ ZERO_BUF, 1 << 20           # one write of zeros
.equ SEG_NAME_CAP, 32
.equ R_DETAIL, 416     # recover.s's r_report: its error log line's detail, NUL included:
.equ R_DETAIL_TEXT, 58 #   the segment's name, then " at N, N bytes, key " (at most this), the key
.if SEG_NAME_CAP + R_DETAIL_TEXT + NAME_MAX + 1 > R_DETAIL
.error "r_report's detail does not fit"
.endif
.equ SCAN_BUF, 1 << 20            # recovery reads segments this much at a time
.equ SCAN_ALIGN, 4096             #   from a multiple of this (the scrubber reads with O_DIRECT)
.equ SCAN_CHUNK, SCAN_BUF - SCAN_ALIGN  # so a window from any offset holds at least this
.if SCAN_ALIGN != 4096
.error "recover.s aligns r_buf to 4096 (.p2align 12)"
.endif
.equ SEG_IDLE, 3                 # seconds without a new record before a worker seals a
                                 # segment worth compacting
.equ SEG_TRIM_IDLE, 30           # seconds idle before a worker's active segment gives back
                                 # the zeros written ahead of its records (seg_sweep)
.equ SEG_EARLY, 8 << 20          # a segment this long and worth compacting is sealed even
                                 # under load (seg_sweep)
.equ COMPACT_ENTRIES, 1 << 22    # live records moved from one segment, at most
.equ CE_NODE, 0                  # compaction entry: u64 node
.equ CE_SEQ, 8                   #   u64 the record's sequence number
.equ CE_OLD, 16                  #   u64 its LOC in the old segment
.equ CE_NEW, 24                  #   u64 its LOC in the new one
.equ CE_SIZE, 32
.equ COMPACT_RECORDS, SEG_MAX / (REC_HDR + 8 + FT_SIZE) + 1  # records of one segment, at
                                 # most: each starts below SEG_MAX and takes 56 bytes or more
.equ PR_SET_NAME, 15
# ".asmkv-index", the index's image from a clean stop (snapshot.s):
.equ SNAP_MAGIC, 0x31534b41      # "AKS1"
.equ SN_MAGIC, 0       # u32
.equ SN_HCRC, 4        # u32 CRC32C of the header after this field
.equ SN_CRC, 8         # u32 CRC32C of everything after the header: the list, the regions
.equ SN_SEGS, 16       # u64 segments listed
.equ SN_NEXT, 24       # u64 the index's IX_NEXT (node units taken)
.equ SN_SO_SIZE, 32    # u64 its IX_SO_SIZE (buckets)
.equ SN_SEGID, 40      # u64 its IX_SEGID (the last segment id handed out)
.equ SN_LAYOUT, 48     # u64 x SN_LAYOUT_N: the index's layout the image was made with
.equ SN_LAYOUT_N, 8    #   (snapshot.s: sn_layout; another build's image is not believed)
.equ SNAP_FORMAT, 3    # the node and segment-counter format; raised when either changes
                       # (2: SGF_DAMAGED, which an older asmkv would compact away; 3:
                       # SG_SEAL_END from seals alone, SGF_SEALED, SGF_LAX, SGF_EXPIRY, SG_EXPIRING)
.equ SN_HEAD, 4096     # the header's length; the list follows, then the regions
.equ SNL_ID, 0         # a listed segment: u64 id (increasing),
.equ SNL_SIZE, 8       #   u64 its length in bytes,
.equ SNL_MTIME, 16     #   16 bytes its last change (st_mtim),
.equ SNL_CTIME, 32     #   16 bytes its last status change (st_ctim: no one can set it),
.equ SNL_INO, 48       #   u64 its inode: another file of the same length and times is not it
.equ SNL_SEEN, 56      #   u64 (at load) 1 once the directory showed it: one name per id
.equ SNL_SIZEOF, 64
.equ SNL_SHIFT, 6      # log2 SNL_SIZEOF
.equ SN_REGIONS, 4     # the index's regions in an image (sn_region)
.equ SN_KEEP_SHIFT, 9  # no image if node memory is above 512 bytes a key in the table
.equ SN_KEEP_SLACK, 16 << 20  #   plus 16 MiB: mostly free nodes (a full read gives them back)
.equ SN_FOREIGN, -5000 # sn_entry: an entry that is not ours (not a mismatch to report;
                       # below every -errno)
# The index: one mapping shared by the master and every worker (index.s).
.equ IX_SEQ, 0         # u64 last sequence number handed out
.equ IX_SEGID, 8       # u64 last segment id handed out
.equ IX_NEXT, 16       # u64 next free node unit
.equ IX_SO_SIZE, 24    # u64 buckets in use (a power of two; index.s doubles it)
.equ IX_DEAD_GEN, 32   # u64 counts segments removed by compaction (workers close theirs)
.equ IX_KEYS, 40       # u64 keys that have a value (metrics)
.equ IX_HASH_KEY, 48   # 16 bytes: the key of the index's SipHash, random at startup
.equ IX_ACTIVE, 64     # u64 per child slot: the segment it appends to, 0 if none
.if IX_HASH_KEY + 16 > IX_ACTIVE
.error "the hash key overlaps IX_ACTIVE"
.endif
.equ IX_FLIGHT_HI, 2176 # u32 per worker slot: its flight entries are below this fd
.equ IX_SO_COUNT, 3200 # u64 keys in the table (nodes with a key linked)
.equ SL_LEVELS, 16     # levels of the ordered list (a skip list): at a quarter of the
                       # nodes a level up, 4^16 keys before the top level is crowded
.equ IX_SL_HEAD, 3264  # u32 per level: the first node's unit at that level, 0 = none
.equ IX_LOAD_FAILED, 3328  # u32: how startup's loaders (recover_log) said why one failed:
.equ LOAD_CLAIMED_BIT, 0   #   the line is claimed (fatal_once: by the first to fail)
.equ LOAD_SAID_BIT, 1      #   it is written
.equ IX_TAINTED, 3336  # u32: 1 once a write failed after its record was counted (index_taint)
.equ IX_WALK_MAX, 3340 # u32: the most nodes one search of the table has passed on its way
                       #   to its key (so_search): what a flood of colliding keys would raise
.equ IX_DAMAGED, 3344  # u64 damaged spans found in the segments (scan_segment), kept
                       #   with the index: a damaged segment is never removed (SGF_DAMAGED)
.equ IX_DAMAGED_BYTES, 3352 # u64 their bytes
.equ IX_SCRUB_NEXT, 3360 # u64 (scrub.s) the segment id the scrubber reads next (0: 1)
.equ IX_SCRUB_OFF, 3368 # u64   and where in it (a record boundary)
.equ IX_SCRUBBED, 3376  # u64 bytes it has read
.equ IX_SCRUB_PASSES, 3384  # u64 passes over every sealed segment it has finished
.equ IX_SCRUB_PASS_AT, 3392 # u64 Unix seconds when the last of them ended, 0: none yet
.equ IX_SCRUB_GOOD, 3400 # u64 records that checked out in the parts of IX_SCRUB_NEXT read so far
.equ IX_EXPIRED, 3408  # u64 expired values compaction gave back (their keys then have none)
.equ RF_SIGNAL, 1      # recovery failed: a loader was killed by a signal
.equ RF_EXIT, 2        #   a loader exited non-zero
.equ RF_FORK, 3        #   a loader could not be forked
.equ RF_WAIT, 4        #   the loaders could not be waited for
.equ IX_SEGS, 4096     # per segment id, SG_SIZE bytes:
.if IX_ACTIVE + 8 * MAX_CHILDREN > IX_FLIGHT_HI || IX_FLIGHT_HI + 4 * MAX_WORKERS > IX_SO_COUNT || IX_SO_COUNT + 8 > IX_SL_HEAD || IX_SL_HEAD + 4 * SL_LEVELS > IX_LOAD_FAILED || IX_LOAD_FAILED + 4 > IX_TAINTED || IX_TAINTED + 4 > IX_WALK_MAX || IX_WALK_MAX + 4 > IX_DAMAGED || IX_DAMAGED + 8 > IX_DAMAGED_BYTES || IX_DAMAGED_BYTES + 8 > IX_SCRUB_NEXT || IX_SCRUB_PASS_AT + 8 > IX_SCRUB_GOOD || IX_SCRUB_GOOD + 8 > IX_EXPIRED || IX_EXPIRED + 8 > IX_SEGS
.error "the index's header fields overlap"
.endif
.equ SG_TOTAL, 0       #   u32 sealed records written into it
.equ SG_DEAD, 4        #   u32 of those, no longer the newest write of their key
.equ SG_BUSY, 8        #   u32 records reserved in it and not finished
.equ SG_FLAGS, 12      #   u32 SGF_* bits
.equ SG_BYTES, 16      #   u64 bytes of its sealed records (SG_TOTAL's)
.equ SG_DEAD_BYTES, 24 #   u64 bytes of its dead records (SG_DEAD's)
.equ SG_SEAL_END, 40   #   u64 where its last record ends, from its seal (seal.s), 0: none:
                       #   below it a crash's shapes are damage
.equ SG_EXPIRING, 36   #   u32 puts in it that expire (MP_DELETE_AT), at least
.equ SG_EXPIRE_MAX, 48 #   u64 the latest time any of them expires at: past it, they count as
                       #   dead for compaction (seg_worth)
.equ SG_EXPIRE_MIN, 56 #   u64 the earliest time any put in it expires at, 0: not known (an image of
                       #   an older build) or none yet: before it, none has expired (loc_expired
                       #   reads nothing). Lowered before each such put can count; 0 taken for
                       #   "none yet" by seg_expiring is safe because a segment of an older run
                       #   never gets new puts (ids only grow)
.equ SG_DROP, 32       #   u32 of its live records, tombstones that were the only record of
                       #   their key when last seen (index_rec_drop): compaction drops them
.equ SGF_GONE, 1       #     compaction has removed it
.equ SGF_HINT, 2       #     it has a hint file
.equ SGF_SEALED, 8     #     its seal was decided: a seal written (SG_SEAL_END), or none can be
.equ SGF_LAX, 16       #     a record given up in it could not be marked (FT_MAGIC_REL), or a
                       #     copy into it failed: it gets no seal (its zeros are not damage)
.equ SGF_EXPIRY, 32    #     it holds puts that expire: a listing checks their records, and a
                       #     hint of it says so (hint_load then reads the segment instead)
.if (SGF_EXPIRY >> 5) - HINT_F_EXPIRY
.error "hint_write makes HINT_F_EXPIRY from SGF_EXPIRY by a shift of 5"
.endif
.equ SGF_DAMAGED, 4    #     a scan found damage in it: it keeps its place (no hint, never
                       #     compacted), so the damage stays where recovery reports it
# ".asmkv-seals" (seal.s) says, per segment, where its records ended when it
# was sealed and flushed with nothing found that a crash leaves: below that a
# start takes a crash's shapes for damage, and a shorter file for a cut, even
# without a hint. Entries of SE_SIZE bytes, appended by the compactor alone:
.equ SE_MAGIC, 0       # u32 SEAL_MAGIC_V1
.equ SE_CRC, 4         # u32 CRC32C of bytes [8, SE_SIZE)
.equ SE_ID, 8          # u64 the segment's id
.equ SE_END, 16        # u64 where its last record ends
.equ SE_SIZE, 24
.equ SEAL_MAGIC_V1, 0x31534541   # "AES1"
.equ SEALS_MAX, SE_SIZE * (SEG_ID_MAX + 1) * 2 + 4096  # largest seals file read
.equ SEALS_SLACK, 64             # entries of removed segments kept before a rewrite
.equ SEAL_BUF, SE_SIZE * 170      # entries written at once (seal.s)
# A hint file "ID.hint" lists the sealed records of a segment no one writes to
# any more, so startup need not read the segment (recover.s, compact.s):
#   "AKH1" | entries | CRC32C of everything before it (u32)
# each entry: HE_SIZE bytes then the key, padded to 8.
.equ HINT_MAGIC_V1, 0x31484b41   # "AKH1"
.equ HE_SEQ, 0         # u64 the record's sequence number
.equ HE_LOC, 8         # u64 its offset, LOC_TOMB for a delete (the segment is the file's)
.equ HE_LEN, 16        # u32 the record's length
.equ HE_KLEN, 20       # u32
.equ HE_KEY, 24
.equ HE_DELETE_AT, 24  # u64 in a hint with HINT_F_EXPIRY: the put's expiry (0: none),
.equ HE_KEY_X, 32      #   and the key after it
.equ HINT_MAX, 1 << 30           # largest hint file read or written
.equ HINT_NAME_CAP, 40
.equ SG_SIZE, 64
.if SG_EXPIRE_MIN + 8 > SG_SIZE
.error "the SG_* fields do not fit in SG_SIZE"
.endif
.equ SG_SHIFT, 6       # log2 SG_SIZE
.if (1 << SG_SHIFT) - SG_SIZE
.error "SG_SHIFT must be log2 SG_SIZE"
.endif
.equ IX_RECLAIM, IX_SEGS + SG_SIZE * (SEG_ID_MAX + 1)  # one page: giving nodes back (index.s),
                       # page-aligned so the master can map it alone (index_forget)
.equ RC_EPOCH, 0       #   u64 the reclamation epoch (only the compactor raises it)
.equ RC_DYING, 8       #   u32 the first dead node not yet unlinked (a stack through N_SEQ)
.equ RC_LIMBO, 16      #   u64 x RC_GENS: per epoch mod RC_GENS, unlinked nodes waiting
.equ RC_GENS, 3        #     for every process that might see them to move on
.equ RC_FREED, 40      #   u64 nodes given back so far (metrics)
.equ RC_REUSED, 48     #   u64 nodes taken again from the free lists (metrics)
.equ RC_FREE, 64       #   u64 per node size in units: the free list's first unit (low
.equ RC_SIZES, 32      #     half) and a count of pops (high half: no ABA)
.equ RC_SLOTS, 1024    #   u64 per child slot: the epoch a worker has been in since it
                       #     woke, 0 while it waits (index_enter, index_leave)
.equ RC_BK_HOLD, 3080   #   u64 (backup.s) the running backup's hold, 0 if none: low half the
                       #     last segment id it holds (compaction removes none at or below
                       #     it), high half its worker's slot + 1 (cleared when that dies)
.equ RC_BK_FROM, 3088   #   u64 the first segment id it still holds (those below are sent:
                       #     compaction may take them again), only ever raised while it runs
.if RC_FREE + 8 * RC_SIZES > RC_SLOTS || RC_SLOTS + 8 * MAX_CHILDREN > RC_BK_HOLD || RC_BK_HOLD + 8 > RC_BK_FROM || RC_BK_FROM + 8 > PAGE_SIZE
.error "the reclamation page's fields overlap"
.endif
.equ IX_BUCKETS, IX_RECLAIM + PAGE_SIZE  # u32 per bucket: its dummy's unit, 0 = not made
.equ IX_SO_MAX, 1 << 26          # buckets at most (at SO_LOAD keys each: 268 million keys)
.equ SO_INITIAL, 1 << 10         # buckets at first
.equ SO_LOAD, 4                  # keys per bucket, on average, before the table doubles
.equ IX_FLIGHT, IX_BUCKETS + 4 * IX_SO_MAX  # per worker slot, per fd: the write in flight
.equ FL_NODE, 0        #   u64 its key's node (offset in the index), 0 = none
.equ FL_SEQ, 8         #   u64 its sequence number, FL_UNKNOWN until it has one
.equ FL_SIZE, 16
.equ FL_UNKNOWN, -1
.equ STATS_SIZE, 4096 # a child's block of counters (metrics.s)
.equ IX_STATS, IX_FLIGHT + FL_SIZE * MAX_WORKERS * MAX_FDS  # per child slot: its counters
.equ IX_NODES, IX_STATS + STATS_SIZE * MAX_CHILDREN
.equ IX_UNIT, 16       # nodes are addressed in units of 16 bytes from the mapping's start
.equ IX_MAP_SIZE, 1 << 36        # virtual only: pages come as nodes are added
.equ N_NEXT, 0         # u32 unit of the next node in the split-ordered list, 0 = end
.equ LINK_MARK_BIT, 31 # in N_NEXT and every tower link: the node holding the link is dead
.equ LINK_MARK, 1 << LINK_MARK_BIT  # and being unlinked: nothing may be linked after it there
.equ IX_UNITS_MAX, LINK_MARK       # node units stay below the mark (32 GiB of nodes)
.equ N_KLEN, 4         # u32
.equ N_HASH, 8         # u32 its split-order key: the hash's low half, top bit set, reversed
                       # (a bucket's dummy: the bucket reversed; it has N_KLEN 0)
.equ N_RECS, 12        # u32 records of the key that may be on disk, at least (index_rec_add):
                       #   1 means only its newest; N_RECS_MANY sticks (never "1" again)
.equ N_RECS_MANY, 0xfffffffe
.equ N_RECS_DEAD, 0xffffffff      # the node is gone: no value, nothing on disk, and no
                                  # one may count a record on it again (index_rec_drop)
.equ N_SEQ, 16         # u64 \ updated together (cmpxchg16b):
.equ N_LOC, 24         # u64 /  the newest write of the key
.equ N_KEY, 32
# After the key, at N_KEY + its length rounded up to 4 (sl_tower): the node's
# tower in the ordered list, u32 per level it stands in (1..SL_LEVELS, from the
# hash's high half: sl_height), each the unit of the next node at that level.
# A bucket's dummy has none.
.equ SL_SPLICE_SUCC, 8 * SL_LEVELS  # a splice (sl_seek): u64 per level the tower
.equ SL_SPLICE, SL_SPLICE_SUCC + 4 * SL_LEVELS  # before the place, then u32 per level the unit after it
.equ PUB_LOST, 0       # publish: a newer write of the key is already there
.equ PUB_NEW, 1        #          the key had no value
.equ PUB_REPLACED, 2   #          the key had a value
.equ PUB_EXISTS, 3     #          create-only, and the key has a value
.equ COND_TRIES, 3               # reads of a key's record a write's preconditions try, each
                                 # after compaction moved it (cond.s)
.equ SEQ_TIME_SHIFT, 20          # sequence numbers start at least at Unix seconds << this

# ---- write handle: one write of one key, as the store takes it ------------
# The store's write path (store.s, flight.s, commit.s) knows a write by this
# handle alone, never by the connection that asked for it. The HTTP side
# keeps one in each connection slot (C_WH) and fills the caller's fields;
# import.s has one of its own. Derived offsets, as the slot's.
# The caller's, set before store_put, store_spool or store_delete:
.equ WH_KEY, 0                         # u64 the encoded key's first byte
.equ WH_KLEN, WH_KEY + 8               # u64 its length
.equ WH_META, WH_KLEN + 8              # u64 the record's metadata (MP_* prefix and block, meta.s), 0:
                                       #   none (a v1 record); read only when the record is begun
.equ WH_DELETE_AT, WH_META + 8         # u64 Unix seconds the value expires at, 0: never
.equ WH_VLEN, WH_DELETE_AT + 8         # u64 the value's length (a spooled one's: set before store_commit)
.equ WH_EXPECT, WH_VLEN + 8            # u64 WC_SEQ: the sequence number the key's newest write must
                                       #   have; once claimed, the one claimed
.equ WH_DONE, WH_EXPECT + 8            # u64 called after the group commit: rdi = the handle, rsi =
                                       #   its outcome (as store_commit's)
.equ WH_META_LEN, WH_DONE + 8          # u32 the metadata's length, 0 if none
.equ WH_COND, WH_META_LEN + 4          # u32 WC_*: what the write expects of its key
.equ WH_FLIGHT, WH_COND + 4            # u32 its entry in the worker's registry of writes in flight
                                       #   (flight.s: the socket)
.equ WH_FLAGS, WH_FLIGHT + 4           # u32 WF_* (WF_NOW is the caller's; the rest the store's)
# The store's own:
.equ WH_FD, WH_FLAGS + 4               # i32 the record's segment (WF_RECORD) or the spool, -1: none
.equ WH_NODE, WH_FD + 4                # u32 the key's node, in IX_UNITs from the index's start
.equ WH_LOC, WH_NODE + 4               # u64 LOC of the record (segment.s)
.equ WH_WOFF, WH_LOC + 8               # u64 file offset of the next value byte
.equ WH_SEQ, WH_WOFF + 8               # u64 the write's sequence number, once it has one
.equ WH_TIME, WH_SEQ + 8               # u64 the record's time (the answer's Last-Modified)
.equ WH_TAG, WH_TIME + 8               # u64 a refused write (R_412, WF_TAGGED): the key's value's number
.equ WH_SPOOL, WH_TAG + 8              # u64 a spooled value's file, by its number (0: none)
.equ WH_RESULT, WH_SPOOL + 8           # i64 in a group commit: COMMIT_WRITTEN, then its outcome
.equ WH_GONE, WH_RESULT + 8            # u64 an unconditional put: the sequence number of the key's
                                       #   value that had expired when it was sealed (a compaction copy
                                       #   keeps it), 0: none; replacing it creates the key: 201
.equ WH_HCRC, WH_GONE + 8              # u32 the record's header CRC
.equ WH_CRC, WH_HCRC + 4               # u32 CRC32C of the value region stored so far
.equ WH_SIZE, WH_CRC + 4
.irp f, WH_KEY, WH_KLEN, WH_META, WH_DELETE_AT, WH_VLEN, WH_EXPECT, WH_DONE, WH_LOC, WH_WOFF, WH_SEQ, WH_TIME, WH_TAG, WH_SPOOL, WH_RESULT, WH_GONE, WH_SIZE
.if \f & 7
.error "a u64 field of the write handle is not 8-byte aligned"
.endif
.endr
# WH_COND: what a conditional write expects of its key (cond.s decides it
# before the body is read; cond_claim checks it again, atomically, at the seal)
.equ WC_SEQ, 1         # the key's newest write is WH_EXPECT
.equ WC_ABSENT, 2      # the key has no value
.equ WC_PRESENT, 4     # the key has a value
.equ WC_EXPIRED, 8     # the value it expects (WC_SEQ) had expired: a write that claims it
                       #   creates the key (201)
# WH_FLAGS
.equ WF_DELETE, 1      # a delete, not a put
.equ WF_NOW, 2         # published at once, whatever --sync says: the caller flushes (import.s)
.equ WF_RECORD, 4      # WH_FD is the segment the record is written into (else a spool)
.equ WF_WHOLE, 8       # the whole record is in w_rec, to be written in one call
.equ WF_CLAIMED, 16    # a conditional write holds its key (LOC_CLAIM) until published
.equ WF_HAD, 32        # the key a conditional write claimed had a value (204, not 201)
.equ WF_TAGGED, 64     # a refused write's key has a value (WH_TAG)
.equ WF_STORE, WF_RECORD | WF_WHOLE | WF_CLAIMED | WF_HAD | WF_TAGGED

# A value store_get found (store.s), for the HTTP side to answer with
.equ FV_SEQ, 0         # u64 its write's sequence number (its entity-tag)
.equ FV_TIME, 8        # u64 its record's time (its Last-Modified)
.equ FV_OFF, 16        # u64 the file offset of the value's first byte
.equ FV_LEN, 24        # u64 the value's length
.equ FV_MEM, 32        # u64 the whole value in memory (w_rec), or 0
.equ FV_FD, 40         # i32 the segment holding it (the process keeps it open)
.equ FV_META, 44       # u32 its block's length: answer lines just before the value, in the
                       #   file and in memory (a v2 record, meta.s), 0: none
.equ FV_BLOCK, 48     # u64 the block in memory (w_rec), when FV_META is not 0
.equ FV_SIZE, 56
# key_state (store.s): what a key holds
.equ KS_NONE, 0        # no value: never written, or deleted
.equ KS_VALUE, 1
.equ KS_EXPIRED, 2     # a value whose time has come (meta.s)

# ---- connection slot: one per fd, in a table mmap'd by each worker ----------
# Slots are small and dense, so an idle connection costs a quarter page. The
# 32 KiB input buffer is lent from a pool (inbuf.s) only while a request is
# being read or answered, and goes back when the connection waits idle.
# Every field has bytes of its own: no two fields share them, whatever state
# the connection is in (a union kept apart by each path remembering its state
# once let a stalled GET's token pointer be unlinked as a spool file's name).
# Each offset is derived from the one before it, and the checks below stop the
# build if a field is misaligned or the slot overflows, so adding a field can
# never overlap another silently.
.equ C_STATE, 0                        # u32 ST_*
.equ C_FLAGS, C_STATE + 4              # u32 F_*
.equ C_IN_LEN, C_FLAGS + 4             # u64 bytes held in the input buffer
.equ C_IN_POS, C_IN_LEN + 8            # u64 first byte of the input buffer not yet consumed
.equ C_SCAN, C_IN_POS + 8              # u64 head-terminator search resumes here
.equ C_BODY_LEFT, C_SCAN + 8           # u64 Content-Length bytes left, or bytes left in chunk
.equ C_BODY_TOTAL, C_BODY_LEFT + 8     # u64 body bytes stored so far
.equ C_GET_FD, C_BODY_TOTAL + 8        # i32 segment a value is sent from (the process's), -1 if none
.equ C_NEXT, C_GET_FD + 4              # u32 state after the output is sent
.equ C_FILE_OFF, C_NEXT + 4            # u64 sendfile offset
.equ C_FILE_LEFT, C_FILE_OFF + 8       # u64 value bytes still to send
.equ C_OUT_LEN, C_FILE_LEFT + 8        # u64 bytes of response head in C_OUT
.equ C_OUT_POS, C_OUT_LEN + 8          # u64 bytes of C_OUT already sent
.equ C_METHOD, C_OUT_POS + 8           # u32 M_*
.equ C_FD, C_METHOD + 4                # u32 the socket
.equ C_NAME_LEN, C_FD + 4              # u64 length of the encoded key in C_NAME
.equ C_CHUNK_CNT, C_NAME_LEN + 8       # u64 bytes of chunk line or trailer seen (bounded)
.equ C_CHUNK_ST, C_CHUNK_CNT + 8       # u32 CH_* chunked decoder state
.equ C_HOSTS, C_CHUNK_ST + 4           # u32 Host fields seen
.equ C_CL, C_HOSTS + 4                 # u64 Content-Length value
.equ C_QUEUED, C_CL + 8                # u32 1 while on the worker's ready list
.equ C_RX, C_QUEUED + 4                # u32 RX_* bits
.equ C_HEAD_LEN, C_RX + 4              # u64 length of the parsed request head
.equ C_AUTH, C_HEAD_LEN + 8            # u64 the presented token (in the request head:
                                       # parse and route only; CD_AUTH says it is there)
.equ C_AUTH_LEN, C_AUTH + 8            # u64 its length
.equ C_LIST, C_AUTH_LEN + 8            # u64 a listing's state (list.s), 0 if none (F_LIST)
.equ C_DEADLINE, C_LIST + 8            # u64 w_now second at which the connection expires
.equ C_WH, C_DEADLINE + 8              # WH_SIZE bytes: the write handle of the request's
                                       #   write (the store's: upload.s fills the caller's fields)
.equ C_COND, C_WH + WH_SIZE            # u32 CD_* bits: what the request's If-* fields say
.equ C_META, C_COND + 4                # u32 a GET's record's block: the bytes of answer lines before
                                       #   its value (meta.s), 0: none (a v1 record)
.equ C_IN_BUF, C_META + 4              # u64 the lent input buffer (request heads, body bytes), 0 if none
.equ C_RANGE_A, C_IN_BUF + 8           # u64 Range: first byte, or the suffix length (F_RANGE_SUFFIX)
.equ C_RANGE_B, C_RANGE_A + 8          # u64 Range: last byte (RANGE_OPEN if not given); for a 416, the value's size
.equ C_NAME, C_RANGE_B + 8             # NAME_MAX + 1 bytes: encoded key (file name), NUL-terminated
.equ C_OUT, C_NAME + NAME_MAX + 1      # OUT_CAP bytes: response head (and short error body, or a small value)
.equ OUT_CAP, 384                      # the longest head (a 206 with its validators) is under 370
# preconditions (RFC 9110 13)
.equ C_IM_N, C_OUT + OUT_CAP           # u32 tags of ours in If-Match (at most TAGS_MAX kept)
.equ C_INM_N, C_IM_N + 4               # u32 ... in If-None-Match
.equ TAGS_MAX, 4
.equ C_IM, C_INM_N + 4                  # u64 * TAGS_MAX: their sequence numbers
.equ C_INM, C_IM + 8 * TAGS_MAX        # u64 * TAGS_MAX
.equ C_IMS, C_INM + 8 * TAGS_MAX       # i64 If-Modified-Since, Unix seconds
.equ C_IUS, C_IMS + 8                  # i64 If-Unmodified-Since
.equ C_IF_RANGE, C_IUS + 8             # u64 If-Range's tag
.equ C_TAG_SEQ, C_IF_RANGE + 8         # u64 the answer's ETag (CD_TAG)
.equ C_TAG_TIME, C_TAG_SEQ + 8         # u64 the answer's Last-Modified (CD_TIME)
.equ C_CC, C_TAG_TIME + 8             # u64 a 304's Cache-Control line, from the value's block in w_rec
                                       #   (do_get sets it and respond sends it, in one call chain)
.equ C_CC_LEN, C_CC + 8                # u32 its length, 0: none
.equ C_END, C_CC_LEN + 4
.equ HEAD_304_MAX, 160                 # a 304's head is under this (status line, Date, Server,
                                       #   ETag, Connection: 135 bytes at most), so a Cache-Control
                                       #   line of up to OUT_CAP - HEAD_304_MAX bytes fits beside it
.equ CC_VALUE_MAX, OUT_CAP - HEAD_304_MAX - 17  # a write's Cache-Control value (its fields' joined),
                                       #   at most: "Cache-Control: " value CRLF fits a 304 (meta.s)
.equ SPOOL_NAME_CAP, 48                # ".tmp-" PID (10 digits at most) "-" N (20) NUL: 37 at most
.equ CONN_SIZE, 1152                   # (imul: any multiple of 64 will do)
.if C_END > CONN_SIZE
.error "the connection slot's fields do not fit in CONN_SIZE"
.endif
.irp f, C_IN_LEN, C_IN_POS, C_SCAN, C_BODY_LEFT, C_BODY_TOTAL, C_FILE_OFF, C_FILE_LEFT, C_OUT_LEN, C_OUT_POS, C_NAME_LEN, C_CHUNK_CNT, C_CL, C_HEAD_LEN, C_AUTH, C_AUTH_LEN, C_LIST, C_DEADLINE, C_WH, C_IN_BUF, C_RANGE_A, C_RANGE_B, C_NAME, C_OUT, C_IM, C_INM, C_IMS, C_IUS, C_IF_RANGE, C_TAG_SEQ, C_TAG_TIME, C_CC
.if \f & 7
.error "a u64 field or buffer of the connection slot is not 8-byte aligned"
.endif
.endr
.irp f, C_STATE, C_FLAGS, C_GET_FD, C_NEXT, C_METHOD, C_FD, C_CHUNK_ST, C_HOSTS, C_QUEUED, C_RX, C_COND, C_IM_N, C_INM_N, C_META, C_CC_LEN
.if \f & 3
.error "a u32 field of the connection slot is not 4-byte aligned"
.endif
.endr
.equ IN_CAP, 32768     # one input buffer; a power of two (IN_SHIFT)
.equ BODY_DIRECT, 262144 # a long upload is read this much at a time, past the input buffer
.equ IN_SHIFT, 15

# connection states
.equ ST_FREE, 0
.equ ST_HEAD, 1        # reading a request head
.equ ST_BODY, 2        # streaming a request body into its record (or spool)
.equ ST_WRITE, 3       # sending C_OUT, then C_FILE_LEFT bytes of C_GET_FD
.equ ST_DONE, 4        # response sent: next request or close
.equ ST_LINGER, 5      # last response sent, write side shut, discarding input until the end
.equ ST_COMMIT, 6      # write or delete sealed, waiting for the group commit (commit.s)
.equ ST_LIST, 7        # producing and sending a listing of keys (list.s)
.equ ST_BACKUP, 8      # a backup waiting for its segments to settle (backup.s); then ST_LIST

# WH_RESULT while in a group commit (then R_201/R_204/R_404 or -errno)
.equ COMMIT_WRITTEN, 0x10000     # the record is sealed, not yet durable

# C_RX bits: with edge-triggered epoll a short read means the socket is empty
# until the next event, so the read that would say EAGAIN is skipped
.equ RX_DRAINED, 1               # the last read was short: wait for an input event
.equ RX_PEER_DONE, 2             # the peer closed or failed: always read to the end
.equ RX_METRICS, 4               # it came in on the metrics socket (metrics.s)

# C_FLAGS bits
.equ F_CLOSE, 1        # close after this response
.equ F_HTTP10, 2
.equ F_KEEP, 4         # HTTP/1.0 client asked for keep-alive
.equ F_CHUNKED, 8
.equ F_EXPECT, 16      # Expect: 100-continue
.equ F_HAS_CL, 32
.equ F_HAS_TE, 64
.equ F_TE_BAD, 128     # a coding listed before the last one: not a single "chunked"
.equ F_EXPECT_BAD, 256 # an expectation we cannot meet
.equ F_CONN_CLOSE, 512 # Connection: close
                       # (2048 is free: every close after an answer lingers, done_step)
.equ F_DISCARD, 4096   # the body of a GET/HEAD/DELETE: read and dropped, then answered
.equ F_RANGE, 8192     # one valid byte range was asked for (C_RANGE_A, C_RANGE_B)
.equ F_RANGE_SUFFIX, 16384 # ... as "-N": the last N bytes
.equ F_RANGE_IGNORE, 32768 # Range is to be ignored: If-Range (we have no validators),
                           # several ranges, a second Range field, a syntax we do not serve
.equ RANGE_OPEN, -1    # C_RANGE_B when the range runs to the end
.equ F_IF_NONE_STAR, 65536 # If-None-Match: * (PUT/POST create only; GET/HEAD 304 if present)
                       # (131072 and 262144 are free)

.equ F_LIST, 524288   # C_LIST holds a listing's state (list.s)
.equ F_TE_ANY, 1048576 # a transfer coding was listed (F_CHUNKED: the last one is chunked)
.equ F_HOST_BAD, 2097152 # a Host field whose value is not uri-host [":" port]
.equ F_BACKUP, 4194304 # the connection is this worker's backup (backup.s; w_bk_conn)
.equ F_FILE2, 8388608  # once C_FILE_LEFT is sent, C_RANGE_B more bytes of C_GET_FD from
                       # C_RANGE_A past where it ended (a 206 of a value with metadata:
                       # its block, then the bytes asked for; the request's range is done)

# C_COND bits
.equ CD_IM, 1          # If-Match present
.equ CD_IM_STAR, 2     #   as "*"
.equ CD_IM_MORE, 4     #   with more tags of ours than TAGS_MAX
.equ CD_INM, 8         # If-None-Match present (tags; "*" is F_IF_NONE_STAR)
.equ CD_INM_MORE, 16
.equ CD_IMS, 32        # a valid If-Modified-Since (C_IMS)
.equ CD_IUS, 64        # a valid If-Unmodified-Since (C_IUS)
.equ CD_IF_RANGE, 128  # If-Range with a strong tag of ours (C_IF_RANGE)
                       # (256, 512 and 1024 are free: a write's expectation is WH_COND)
.equ CD_TAG, 2048      # the answer carries ETag: C_TAG_SEQ
.equ CD_TIME, 4096     # the answer carries Last-Modified: C_TAG_TIME
.equ CD_BAD, 8192      # a malformed entity-tag list: 400
.equ CD_IMS_SEEN, 16384 # an If-Modified-Since field was seen (a second one voids it)
.equ CD_IUS_SEEN, 32768
                       # (65536 is free)
.equ CD_AUTH, 131072  # an Authorization: Bearer field (C_AUTH, C_AUTH_LEN)
.equ CD_AUTH_SEEN, 262144 # an Authorization field of any scheme was seen (a second one voids the token)

# methods
.equ M_GET, 1
.equ M_HEAD, 2
.equ M_PUT, 3
.equ M_POST, 4
.equ M_DELETE, 5
.equ M_KNOWN, 6        # a standard method this resource does not allow (405)
.equ M_UNKNOWN, 7      # 501

# chunked decoder states
.equ CH_SIZE0, 0       # first hex digit of a chunk size
.equ CH_SIZE, 1        # more hex digits
.equ CH_EXT, 2         # blanks after a chunk size or an extension: ";" must follow
.equ CH_SIZE_LF, 3
.equ CH_DATA, 4
.equ CH_DATA_CR, 5
.equ CH_DATA_LF, 6
.equ CH_TRAIL0, 7      # start of a trailer line (CR here ends the body)
.equ CH_TRAIL, 8       # inside a trailer field, skipped up to CR
.equ CH_TRAIL_LF, 9
.equ CH_END_LF, 10
.equ CH_DONE, 11
# chunk extensions (RFC 9112 7.1.1), checked and dropped:
#   chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
.equ CH_EXT_NAME0, 12  # after ";": blanks, then a token
.equ CH_EXT_NAME, 13   # in the name
.equ CH_EXT_NAME_WS, 14 # blanks after the name: "=" or ";" must follow
.equ CH_EXT_VAL0, 15   # after "=": blanks, then a token or a quoted string
.equ CH_EXT_TOKEN, 16  # in a token value
.equ CH_EXT_QS, 17     # in a quoted string
.equ CH_EXT_QP, 18     # after a backslash in it
.equ CH_EXT_END, 19    # after a value: ";", blanks or CR
.equ CH_TR_NAME, 20    # a trailer field's name, up to ":" (RFC 9112 7.1.2)

# response kinds: index into resp_table (response.s)
.equ R_201, 0
.equ R_204, 1
.equ R_400, 2
.equ R_404, 3
.equ R_405, 4
.equ R_413, 5
.equ R_414, 6
.equ R_417, 7
.equ R_431, 8
.equ R_500, 9
.equ R_501, 10
.equ R_505, 11
.equ R_507, 12
.equ R_408, 13
.equ R_503, 14
.equ R_206, 15            # built by respond_value, not respond
.equ R_416, 16
.equ R_304, 17
.equ R_412, 18
.equ R_400_SLASH, 19      # a write to a path ending in "/" (a listing's)
.equ R_401, 20
.equ R_500_DAMAGED, 21    # the key's newest record is damaged on disk (LOC_DAMAGED)
.equ R_505_BACKUP, 22     # GET /backup over HTTP/1.0 (backup.s)
.equ R_400_META, 23       # a write's metadata beyond the limits (meta.s)
.equ R_400_EXPIRY, 24     # X-Delete-At / X-Delete-After not one time in the future (meta.s)
.equ RESP_ENTRY, 32    # resp_table entry: line ptr, line len, body ptr, body len

# results of a connection step (worker.s)
.equ STEP_GO, 0        # progress: run the next step
.equ STEP_WAIT, 1      # the socket would block: wait for epoll
.equ STEP_CLOSED, 2    # the connection is gone
.equ STEP_YIELD, 3     # progress, after a long step: let other connections run first

# char_class bits (table in http.s)
.equ CC_TCHAR, 1       # char_class bit: may appear in a token (method, field name)
.equ CC_KEY, 2         # stored in a file name as itself
.equ CC_BADVAL, 4      # control character: not allowed in a field value
# host_class bits (table in http.s; host_valid)
.equ HC_REG, 1         # may appear in a reg-name as itself
.equ HC_IP, 2          # may appear in an IP-literal between its brackets
.equ HC_HEX, 4         # a hex digit (of a %HH in a reg-name)

# ---- listings of keys (list.s): a GET or HEAD whose path ends in "/" ---------
.equ LS_PHASE, 0       # u32 LP_*
.equ LS_PLEN, 4        # u32 the prefix's length, encoded (as keys are in the index)
.equ LS_ALEN, 8        # u32 the after= name's length, decoded
.equ LS_FLAGS, 12      # u32 LF_*
.equ LS_LIMIT, 16      # u64 entries still to send
.equ LS_POS, 24        # u32 the next node to look at, in key order (0: the end; LF_SEEKED),
                       #   good within one step only (index_after)
.equ LS_SLEN, 28       # u32 the length of LS_SEEK
.equ LS_OUT_LEN, 32    # u64 bytes in LS_OUT
.equ LS_OUT_POS, 40    # u64 of those, sent
.equ LS_SIZE, 48       # u64 the mapping's size
.equ LS_SENT, 56       # u64 entries sent
.equ LS_PREFIX, 256    # NAME_MAX + 1 bytes: the prefix, encoded
.equ LS_AFTER, 512     # NAME_MAX + 1 bytes: the after= name, decoded
.equ LS_SEEK, 768      # LS_SEEK_CAP bytes: where the walk starts, encoded (list_prepare)
.equ LS_SEEK_CAP, NAME_MAX + 3 * NAME_MAX + 3  # the prefix, the after= name as %XX, "%2F"
.equ LS_OUT, 2048      # LIST_OUT bytes: the chunk being sent
.if LS_SEEK + LS_SEEK_CAP > LS_OUT
.error "a listing's seek key overlaps its output"
.endif
.equ LIST_OUT, 65536
.equ LS_STATE_SIZE, LS_OUT + LIST_OUT
.equ LIST_CHUNK_HEAD, 8          # "XXXXXX" CRLF: the size of each chunk, before its data
.equ LIST_ENTRY_MAX, 2048        # the most one entry's JSON takes (a name escaped 6 bytes a byte)
.equ LIST_WALK, 4096             # nodes looked at in one step,
.equ LIST_SEEK_COST, 64          # and what a seek counts as (up to SL_LEVELS levels of ~4 nodes)
.equ LP_WALK, 0        # walking the keys under the prefix, sending entries as JSON
.equ LP_END, 4         # the last chunk is queued
.equ LP_BACKUP, 8      # a backup's tar (backup.s makes each chunk)
# a backup's own fields in a listing's state (below LS_PREFIX: zeroed by list_state)
.equ LS_BK_HOLD, 64    # u64 the last segment id it holds
.equ LS_BK_ID, 72      # u64 the segment id it sends next
.equ LS_BK_KIND, 80    # u32 0: that segment's file next, 1: its hint's
.equ LS_BK_PAD, 84     # u32 zeros owed after the last file sent, to its 512-byte block
.equ LS_BK_HFD, 88     # u32 the hint file being sent, as descriptor + 1 (0: none)
.equ LS_BK_OPEN, 92    # u32 1: a data chunk was sent, its CRLF is owed
.equ LS_BK_SIZE, 96    # u64 the bytes of the file whose header was just made (0: none)
.equ LS_BK_FD, 104     # u32   its descriptor
.equ LS_BK_UNTIL, 112  # u64 w_now second after which it stops waiting for records still open
.equ LS_BK_SEEN, 120   # u64 w_now + 1 when it last looked at the segments (bk_settled)
.equ BK_WAIT, 10       # seconds a backup waits for its segments to settle (backup_step)
.equ BK_IDS_A_STEP, 1024  # segment ids a step of the stream looks at, at most (backup_make)
.equ TAR_BLOCK, 512    # a tar archive's block: a header, or file data padded to it
.equ TAR_SIZE_MAX, 1 << 33  # a size as eleven octal digits (ustar); base-256 from here on
.equ LF_CHUNKED, 1     # the body is chunked (HTTP/1.1); else it ends with the connection
.equ LF_OPEN, 2        # "[" is sent
.equ LF_AFTER, 4       # after= was given (LS_AFTER, LS_ALEN)
.equ LF_SEEKED, 8      # the walk has begun (LS_POS)
.equ LF_RESUME, 16     # it goes on at LS_SEEK itself: the key it stopped at (list_walk)
.equ LF_SKIP_EQ, 32    #   and that key was listed already: its other nodes are passed over

# ---- metrics (metrics.s): each child's counters, in the index, summed when scraped
.equ STAT_KINDS, 32    # answers by R_* kind; STAT_200 for a 200
.equ STAT_200, 31
.equ STAT_METHODS, 6   # other, GET, HEAD, PUT, POST, DELETE
.equ ST_REQ, 0         # u64 [STAT_METHODS][STAT_KINDS] answers
.equ ST_IN, 1536       # u64 bytes received
.equ ST_OUT, 1544      # u64 bytes sent
.equ ST_OPEN, 1552     # u64 open connections (a gauge)
.equ ST_STARTS, 1560   # u64 times a process started in this slot
.equ ST_GROUPS, 1568   # u64 group commits
.equ ST_GROUP_WRITES, 1576  # u64 writes in them
.equ ST_FLUSH_NS, 1584 # u64 time in their fdatasyncs, ns
.equ ST_GROUP_LE, 1600 # u64 [GROUP_BUCKETS]: groups of at most 1, 2, 4, ... writes
.equ GROUP_BUCKETS, 10
.equ ST_FLUSH_LE, 1680 # u64 [FLUSH_BUCKETS]: flushes of at most FLUSH_BOUNDS
.equ FLUSH_BUCKETS, 11
.equ ST_TIMEOUTS, 1768 # u64 [4]: idle, request head, upload, download
# The metrics socket's own connections (RX_METRICS) count their answers,
# bytes and timeouts apart, at these offsets plus STATS_SCRAPE (CONN_STATS): a scrape is
# not API traffic (asmkv_scrapes_total, as promhttp's handler counts its own).
.equ STATS_SCRAPE, RX_METRICS << 9
.if ST_TIMEOUTS + 32 > STATS_SCRAPE || STATS_SCRAPE + ST_TIMEOUTS + 32 > STATS_SIZE
.error "the scrapes' counters must lie past the API's, within STATS_SIZE"
.endif
.if STATS_SCRAPE != 2048
.error "CONN_STATS shifts RX_METRICS into STATS_SCRAPE"
.endif

# CONN_STATS conn: rcx = the block a connection's answers and bytes count in
# (w_stats, or its scrapes' part for a metrics connection). No branch, so it
# can stand between a jump and its numeric label. Clobbers flags.
.macro CONN_STATS conn
    mov ecx, dword ptr [\conn + C_RX]
    and ecx, RX_METRICS
    shl ecx, 9
    add rcx, qword ptr [rip + w_stats]
.endm

# cfg_metrics (cli.s): the --metrics address, laid out to swap with the listening one's
.equ CM_ADDR6, 0       # 16 bytes
.equ CM_TEXT, 16       # u64 the IPv6 address as given
.equ CM_TEXT_LEN, 24   # u64
.equ CM_ADDR, 32       # u32
.equ CM_FAMILY, 36     # u16
.equ CM_PORT, 38       # u16
.equ CM_GIVEN, 40      # u32 1 if --metrics was given
.equ CM_SIZE, 48

# ---- the access log (alog.s): per connection, what its line needs -----------
.equ LG_SLOT, 1024     # bytes per fd, in a table reserved only with --access-log
.equ LG_ADDR, 0        # 48 bytes: the client's address, as text
.equ LG_ADDR_LEN, 48   # u32
.equ LG_KIND, 52       # u32 the answer's R_* kind, or STAT_200
.equ LG_START, 56      # u64 when the request's head began, µs (w_now_us)
.equ LG_SENT, 64       # u64 bytes sent of the answer, head included
.equ LG_REQ_LEN, 72    # u32
.equ LG_REF_LEN, 76    # u32
.equ LG_UA_LEN, 80     # u32
.equ LG_PENDING, 84    # u32 1: an answer began and has no line yet
.equ LG_REQ, 96        # the request line, escaped
.equ LG_REQ_CAP, 448
.equ LG_REF, 544       # Referer, escaped
.equ LG_REF_CAP, 192
.equ LG_UA, 736        # User-Agent, escaped
.equ LG_UA_CAP, 288
.equ ALOG_DATE_LEN, 26  # "26/Nov/2026:08:45:00 +0000"
.equ ALOG_BUF, 131072  # each of a worker's two buffers of lines
.equ ALOG_FLUSH, 65536  # a buffer this full goes to the log's writer thread
.equ ALOG_LINE_MAX, 2048 # longer than any line: a buffer with less room drops lines;
                         # shorter than PIPE_BUF, so a pipe's pieces end at a line's end
.equ ALOG_STACK, 16384  # the log's writer thread's stack
.equ PIPE_BUF, 4096     # a write to a pipe this long or shorter is never interleaved
.equ ALOG_EXIT_WAIT, 5  # seconds a stopping worker waits for the writer's last write
.equ SOCKADDR_MAX, 128
.equ LOG_ALOG, 5       # a counted event: access log lines that could not be written
.equ LOG_ALOG_BEHIND, 6 # a counted event: access log lines dropped, the writer being behind

# ---- the error log (log.s) ----------------------------------------------------
.equ ISO_LEN, 20       # "2026-11-26T08:40:12Z"
.equ LOG_500, 0        # kinds of counted events
.equ LOG_507, 1
.equ LOG_503, 2
.equ LOG_CORRUPT, 3
.equ LOG_SHED, 4
.equ LOG_KINDS, 7

# ---- access tokens (auth.s) ---------------------------------------------------
.equ TOKENS_MAX, 1024
.equ TOKEN_FILE_MAX, 65536
.equ TS_N, 0           # a token set: u32 tokens
.equ TS_TOKENS, 8      #   TOKENS_MAX * (u32 offset in TS_BUF, u32 length)
.equ TS_HASHES, TS_TOKENS + 8 * TOKENS_MAX # TOKENS_MAX * u64 SipHash-2-4 under tok_key
.equ TS_BUF, TS_HASHES + 8 * TOKENS_MAX   # the file, TOKEN_FILE_MAX + 1 bytes
.equ TS_SIZE, TS_BUF + TOKEN_FILE_MAX + 8
.if TOKEN_FILE_MAX >= 1 << 32
.error "a token's offset and length in TS_TOKENS are u32"
.endif
.if TS_SIZE >= 1 << 31
.error "a token set's offsets must fit a 32-bit displacement"
.endif
.equ TOK_KEY_SIZE, 16  # the SipHash key drawn at startup (getrandom)
.equ TOK_KEY_TRIES, 4  # keys drawn at most until no two different tokens share a hash
# SipHash-2-4 (siphash.s): the initial state, "somepseudorandomlygeneratedbytes"
.equ SIP_V0, 0x736f6d6570736575
.equ SIP_V1, 0x646f72616e646f6d
.equ SIP_V2, 0x6c7967656e657261
.equ SIP_V3, 0x7465646279746573
.equ SIP_FINAL, 0xff   # xored into v2 before the finalization rounds

# flag_table entry (cli.s): name, handler, takes-a-value
.equ FLAG_ENTRY, 24

