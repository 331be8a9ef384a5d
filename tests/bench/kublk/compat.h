/* Forced into every file of kublk when tests/bench/kublk/build compiles it
 * against Debian 12's liburing 2.3 and the kernel source's own ublk_cmd.h and
 * fs.h: the io_uring constants of the newer uapi that liburing 2.3's header
 * lacks (values from the same kernel source's include/uapi/linux/io_uring.h),
 * and the two buffer-ring helpers of liburing 2.4 that shim.c provides. */
#ifndef UBLKD_KUBLK_COMPAT_H
#define UBLKD_KUBLK_COMPAT_H
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT (1U << 1)
#endif
#ifndef IORING_OP_READV_FIXED
#define IORING_OP_READV_FIXED 60
#define IORING_OP_WRITEV_FIXED 61
#endif
struct io_uring;
struct io_uring_buf_ring;
struct io_uring_buf_ring *io_uring_setup_buf_ring(struct io_uring *ring, unsigned int nentries,
						  int bgid, unsigned int flags, int *err);
int io_uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
			   unsigned int nentries, int bgid);
#endif
