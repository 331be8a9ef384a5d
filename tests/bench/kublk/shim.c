/* The two buffer-ring helpers kublk's batch mode calls that liburing 2.4
 * added and Debian 12's liburing 2.3 lacks, written from their manual page
 * (io_uring_setup_buf_ring(3)): map nentries buffer descriptors, register
 * them as buffer group bgid (flags, e.g. IOU_PBUF_RING_INC, go in the
 * registration's flags field, which 2.3's header still calls pad), and undo. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <liburing.h>

struct io_uring_buf_ring *io_uring_setup_buf_ring(struct io_uring *ring, unsigned int nentries,
						  int bgid, unsigned int flags, int *err)
{
	size_t len = (size_t)nentries * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg;
	struct io_uring_buf_ring *br;
	int ret;

	br = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = nentries;
	reg.bgid = (unsigned short)bgid;
	reg.pad = (unsigned short)flags;
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		munmap(br, len);
		*err = ret;
		return NULL;
	}
	io_uring_buf_ring_init(br);
	return br;
}

int io_uring_free_buf_ring(struct io_uring *ring, struct io_uring_buf_ring *br,
			   unsigned int nentries, int bgid)
{
	int ret = io_uring_unregister_buf_ring(ring, bgid);

	if (ret)
		return ret;
	munmap(br, (size_t)nentries * sizeof(struct io_uring_buf));
	return 0;
}
