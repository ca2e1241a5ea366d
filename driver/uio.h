/* SPDX-License-Identifier: MIT */
/*
 * The PCI-function interface over Linux UIO (uio_pci_generic), for a real virtio-vsock
 * function: driver/uio.c (sysfs config, BARs, INTx through /dev/uioN) and driver/uio_dma.c
 * (DMA memory whose device address is its physical address).
 */
#ifndef UVSOCK_UIO_H
#define UVSOCK_UIO_H

#include <stdbool.h>
#include <stddef.h>

#include "pci_func.h"

/*
 * Opens "uio:<args>": a BDF ("0000:00:04.0" or "00:04.0"), then comma-separated options:
 *   poll=1        busy-poll instead of interrupts (a timerfd every poll_us microseconds)
 *   poll_us=N     the poll period, default 50; 0 spins (an always-readable eventfd)
 *   dma=MODE      auto (default: hugepages if reserved, else locked 4 KiB pages), huge, pages
 *   sysfs=DIR     sysfs root instead of /sys (tests; also $UVSOCK_SYSFS_ROOT)
 *   dev=DIR       device root instead of /dev (tests; also $UVSOCK_DEV_ROOT)
 *   pagemap=FILE  instead of /proc/self/pagemap (tests)
 * On error returns -errno and sets *why to a sentence.
 */
int uio_pci_open(const char *args, struct pci_func **out, const char **why);

/* ---- DMA memory (uio_dma.c) ---- */

enum uio_dma_mode {
    UIO_DMA_AUTO,  /* hugepages when 2 MiB pages are free, else 4 KiB pages */
    UIO_DMA_HUGE,  /* 2 MiB hugepages or fail */
    UIO_DMA_PAGES, /* locked 4 KiB pages translated through pagemap */
};

struct uio_dma;

/*
 * Sets up a DMA allocator and proves it works by mapping and translating its first block of
 * memory, so that "no DMA memory" is reported at open with a reason, not later as -ENOMEM.
 * `hugepages_dir` is the sysfs directory of 2 MiB pages (its free_hugepages file is read).
 */
int uio_dma_create(enum uio_dma_mode mode, const char *hugepages_dir, const char *pagemap_path,
                   struct uio_dma **out, const char **why);
/* The largest physically contiguous object: 4096 or 2 MiB. */
size_t uio_dma_max_contig(const struct uio_dma *d);
bool uio_dma_is_huge(const struct uio_dma *d);
int uio_dma_alloc(struct uio_dma *d, size_t size, struct pci_dma *out);
void uio_dma_free(struct uio_dma *d, struct pci_dma *dma);
/* Unmaps everything: the device must no longer be able to DMA (bus mastering off). */
void uio_dma_destroy(struct uio_dma *d);

#endif /* UVSOCK_UIO_H */
