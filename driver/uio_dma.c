/* SPDX-License-Identifier: MIT */
/*
 * DMA memory for a device behind uio_pci_generic. UIO has no IOMMU mapping API, so the address
 * the device uses (IOVA) is the physical address of the memory, found through
 * /proc/self/pagemap (Documentation/admin-guide/mm/pagemap.rst): one le64 per virtual page,
 * bit 63 "page present", bits 0-54 the page frame number, which reads back as 0 without
 * CAP_SYS_ADMIN.
 *
 * Memory comes in slabs, each a set of physically contiguous units: one 2 MiB hugepage, or 64
 * independent 4 KiB pages. An object is carved from 4 KiB blocks inside one unit and never
 * crosses a unit boundary, because the next virtual page need not be the next physical one.
 *
 * Freed blocks go back to their slab, never to the kernel: a device that was not reset could
 * still write to them, and the kernel would have reused the pages. Slabs are unmapped only in
 * uio_dma_destroy, after bus mastering is off.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uio.h"

#define BLOCK       4096u
#define HUGE_SIZE   (2u * 1024u * 1024u)
#define SLAB_PAGES  64u /* 4 KiB mode: pages mapped, locked and translated together */
#define MAX_BLOCKS  (HUGE_SIZE / BLOCK)
#define PM_PRESENT  (1ull << 63)
#define PM_SWAPPED  (1ull << 62)
#define PM_PFN_MASK ((1ull << 55) - 1)
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
/* MAP_HUGETLB alone takes the default hugepage size, which may be 1 GiB: ask for 2 MiB. */
#define MAP_HUGE_2MB_FLAG (21 << MAP_HUGE_SHIFT)

struct dma_slab {
    struct dma_slab *next;
    uint8_t *cpu;
    size_t bytes;
    unsigned in_use; /* blocks */
    uint64_t used[MAX_BLOCKS / 64];
    uint64_t iova[SLAB_PAGES]; /* per unit: one in huge mode, SLAB_PAGES in 4 KiB mode */
};

struct uio_dma {
    pthread_mutex_t lock;
    bool huge;
    size_t unit; /* bytes physically contiguous: BLOCK or HUGE_SIZE */
    size_t slab_bytes;
    int pagemap_fd;
    struct dma_slab *slabs;
};

static _Thread_local char dma_msg[256];

static const char *say(const char *fmt, const char *a, int err)
{
    snprintf(dma_msg, sizeof(dma_msg), fmt, a, strerror(err));
    return dma_msg;
}

/* free_hugepages of the 2 MiB pool; 0 if the file is missing or unreadable. */
static long free_hugepages(const char *dir)
{
    char path[PATH_MAX], buf[32];
    long n = 0;

    if (!dir || snprintf(path, sizeof(path), "%s/free_hugepages", dir) >= (int)sizeof(path))
        return 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f))
        n = strtol(buf, NULL, 10);
    fclose(f);
    return n > 0 ? n : 0;
}

/* The physical address of the page holding `va`, or a negative errno with *why set. */
static int64_t translate(struct uio_dma *d, const void *va, const char **why)
{
    uint64_t entry;
    off_t at = (off_t)((uintptr_t)va / BLOCK) * (off_t)sizeof(entry);
    ssize_t n = pread(d->pagemap_fd, &entry, sizeof(entry), at);

    if (n != (ssize_t)sizeof(entry)) {
        *why = say("cannot read %s for DMA addresses: %s", "the pagemap", n < 0 ? errno : EIO);
        return n < 0 ? -errno : -EIO;
    }
    if (!(entry & PM_PRESENT) || (entry & PM_SWAPPED)) {
        *why = "a locked DMA page is not present in RAM (pagemap bit 63 clear)";
        return -ENOMEM;
    }
    uint64_t pfn = entry & PM_PFN_MASK;
    if (pfn == 0) {
        *why = "/proc/self/pagemap hides physical addresses (PFN 0): uio DMA needs "
               "CAP_SYS_ADMIN, run as root";
        return -EPERM;
    }
    return (int64_t)(pfn * BLOCK);
}

static int slab_new(struct uio_dma *d, struct dma_slab **out, const char **why)
{
    struct dma_slab *s = calloc(1, sizeof(*s));
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    int rc;

    if (!s) {
        *why = "out of memory";
        return -ENOMEM;
    }
    if (d->huge)
        flags |= MAP_HUGETLB | MAP_HUGE_2MB_FLAG | MAP_POPULATE;
    s->bytes = d->slab_bytes;
    s->cpu = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (s->cpu == MAP_FAILED) {
        rc = -errno;
        *why = d->huge ? say("no 2 MiB hugepage for DMA memory (%s): %s; reserve more in "
                             "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                             "mmap MAP_HUGETLB", -rc)
                       : say("cannot map DMA memory (%s): %s", "mmap", -rc);
        free(s);
        return rc == -ENOMEM ? -ENOMEM : rc;
    }
    /*
     * A fork would make these private pages copy-on-write, and the first write after it would
     * move our side to a new physical page the device does not know about. 4 KiB pages must
     * also never be gathered into a transparent hugepage (khugepaged copies them).
     */
    (void)madvise(s->cpu, s->bytes, MADV_DONTFORK);
    if (!d->huge)
        (void)madvise(s->cpu, s->bytes, MADV_NOHUGEPAGE);
    /* Locked pages are not swapped out, so the physical address we read stays valid. */
    if (mlock(s->cpu, s->bytes) < 0) {
        rc = -errno;
        *why = say("cannot lock DMA memory in RAM (%s: %s): run as root or raise "
                   "RLIMIT_MEMLOCK (ulimit -l)",
                   "mlock", -rc);
        munmap(s->cpu, s->bytes);
        free(s);
        return rc == -EPERM ? -EPERM : -ENOMEM;
    }
    /* Touch every page for writing: a private page only read so far maps the zero page. */
    for (size_t off = 0; off < s->bytes; off += BLOCK)
        ((volatile uint8_t *)s->cpu)[off] = 0;
    size_t units = s->bytes / d->unit;
    for (size_t u = 0; u < units; u++) {
        int64_t pa = translate(d, s->cpu + u * d->unit, why);
        if (pa < 0) {
            munmap(s->cpu, s->bytes);
            free(s);
            return (int)pa;
        }
        if (d->huge && (pa & (HUGE_SIZE - 1))) {
            *why = "a 2 MiB hugepage is not 2 MiB aligned in physical memory";
            munmap(s->cpu, s->bytes);
            free(s);
            return -EIO;
        }
        s->iova[u] = (uint64_t)pa;
    }
    s->next = d->slabs;
    d->slabs = s;
    *out = s;
    return 0;
}

static bool block_used(const struct dma_slab *s, size_t b)
{
    return (s->used[b / 64] >> (b % 64)) & 1;
}

static void mark(struct dma_slab *s, size_t first, size_t n, bool used)
{
    for (size_t b = first; b < first + n; b++) {
        if (used)
            s->used[b / 64] |= 1ull << (b % 64);
        else
            s->used[b / 64] &= ~(1ull << (b % 64));
    }
}

/* First run of `n` free blocks inside one contiguous unit; -1 if there is none. */
static long find_run(const struct uio_dma *d, const struct dma_slab *s, size_t n)
{
    size_t per_unit = d->unit / BLOCK;
    size_t blocks = s->bytes / BLOCK;

    for (size_t start = 0; start + n <= blocks;) {
        size_t unit_end = (start / per_unit + 1) * per_unit;
        if (start + n > unit_end) {
            start = unit_end; /* would cross a physical discontinuity */
            continue;
        }
        size_t b = start;
        while (b < start + n && !block_used(s, b))
            b++;
        if (b == start + n)
            return (long)start;
        start = b + 1;
    }
    return -1;
}

static void carve(struct uio_dma *d, struct dma_slab *s, size_t first, size_t n,
                  struct pci_dma *out)
{
    size_t per_unit = d->unit / BLOCK;

    mark(s, first, n, true);
    s->in_use += (unsigned)n;
    out->cpu = s->cpu + first * BLOCK;
    out->iova = s->iova[first / per_unit] + (first % per_unit) * BLOCK;
    out->size = n * BLOCK;
    out->priv = s;
    memset(out->cpu, 0, out->size); /* blocks come back dirty from earlier objects */
}

int uio_dma_alloc(struct uio_dma *d, size_t size, struct pci_dma *out)
{
    const char *why;
    struct dma_slab *s;
    int rc = 0;

    if (!d || !out || size == 0)
        return -EINVAL;
    if (size > d->unit)
        return -E2BIG;
    size_t n = (size + BLOCK - 1) / BLOCK;
    pthread_mutex_lock(&d->lock);
    for (s = d->slabs; s; s = s->next) {
        long first = find_run(d, s, n);
        if (first >= 0) {
            carve(d, s, (size_t)first, n, out);
            goto out;
        }
    }
    rc = slab_new(d, &s, &why);
    if (rc == 0)
        carve(d, s, 0, n, out);
    else
        rc = -ENOMEM;
out:
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void uio_dma_free(struct uio_dma *d, struct pci_dma *dma)
{
    if (!d || !dma || !dma->cpu)
        return;
    pthread_mutex_lock(&d->lock);
    for (struct dma_slab *s = d->slabs; s; s = s->next) {
        uint8_t *p = dma->cpu;
        if (s != dma->priv || p < s->cpu || p >= s->cpu + s->bytes)
            continue;
        size_t first = (size_t)(p - s->cpu) / BLOCK;
        size_t n = (dma->size + BLOCK - 1) / BLOCK;
        if (first + n <= s->bytes / BLOCK) {
            mark(s, first, n, false);
            s->in_use -= (unsigned)n;
        }
        break;
    }
    pthread_mutex_unlock(&d->lock);
    memset(dma, 0, sizeof(*dma));
}

size_t uio_dma_max_contig(const struct uio_dma *d)
{
    return d->unit;
}

bool uio_dma_is_huge(const struct uio_dma *d)
{
    return d->huge;
}

void uio_dma_destroy(struct uio_dma *d)
{
    if (!d)
        return;
    while (d->slabs) {
        struct dma_slab *s = d->slabs;
        d->slabs = s->next;
        munmap(s->cpu, s->bytes);
        free(s);
    }
    if (d->pagemap_fd >= 0)
        close(d->pagemap_fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static void dma_setup(struct uio_dma *d, bool huge)
{
    d->huge = huge;
    d->unit = huge ? HUGE_SIZE : BLOCK;
    d->slab_bytes = huge ? HUGE_SIZE : (size_t)SLAB_PAGES * BLOCK;
}

int uio_dma_create(enum uio_dma_mode mode, const char *hugepages_dir, const char *pagemap_path,
                   struct uio_dma **out, const char **why)
{
    const char *ignored;
    struct dma_slab *first;
    int rc;

    if (!why)
        why = &ignored;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (sysconf(_SC_PAGESIZE) != BLOCK) {
        *why = "uio DMA needs 4 KiB base pages";
        return -ENOTSUP;
    }
    struct uio_dma *d = calloc(1, sizeof(*d));
    if (!d) {
        *why = "out of memory";
        return -ENOMEM;
    }
    pthread_mutex_init(&d->lock, NULL);
    if (!pagemap_path)
        pagemap_path = "/proc/self/pagemap";
    d->pagemap_fd = open(pagemap_path, O_RDONLY | O_CLOEXEC);
    if (d->pagemap_fd < 0) {
        rc = -errno;
        if (rc == -EACCES || rc == -EPERM)
            *why =
                say("cannot open %s for DMA addresses (%s): uio DMA needs root", pagemap_path, -rc);
        else
            *why = say("cannot open %s for DMA addresses: %s", pagemap_path, -rc);
        uio_dma_destroy(d);
        return rc;
    }

    long free_huge = free_hugepages(hugepages_dir);
    if (mode == UIO_DMA_HUGE && free_huge == 0) {
        *why = "dma=huge but no 2 MiB hugepages are free: reserve some with echo 64 > "
               "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
        uio_dma_destroy(d);
        return -ENOMEM;
    }
    bool try_huge = mode == UIO_DMA_HUGE || (mode == UIO_DMA_AUTO && free_huge > 0);
    dma_setup(d, try_huge);
    rc = slab_new(d, &first, why);
    if (rc < 0 && try_huge && mode == UIO_DMA_AUTO && d->pagemap_fd >= 0 && rc != -EPERM) {
        /* The pool's count raced with another user, or the pages are not usable: plain
         * locked pages still work. */
        dma_setup(d, false);
        rc = slab_new(d, &first, why);
    }
    if (rc < 0) {
        uio_dma_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}
