/* SPDX-License-Identifier: MIT */
/*
 * The PCI-function interface: everything virtio-pci needs from a PCI function, and nothing
 * about vsock. Implemented by UIO (driver/uio.c, a real device) and by the simulated device
 * (driver/sim/). virtio_pci.c is written once on top of it, so the simulator exercises the
 * same code that drives hardware.
 *
 * Errors are negative errno values.
 */
#ifndef UVSOCK_PCI_FUNC_H
#define UVSOCK_PCI_FUNC_H

#include <stddef.h>
#include <stdint.h>

/* DMA memory: a CPU mapping and the address the device uses for it (IOVA). */
struct pci_dma {
    void *cpu;
    uint64_t iova;
    size_t size;
    void *priv; /* the implementation's */
};

struct pci_func;

struct pci_func_ops {
    /* Configuration space access; -EINVAL if [off, off+len) is outside it. */
    int (*cfg_read)(struct pci_func *f, uint32_t off, void *buf, size_t len);
    int (*cfg_write)(struct pci_func *f, uint32_t off, const void *buf, size_t len);
    /* Size of memory BAR `bar` (0..5) in bytes, 0 if it does not exist or is not mapped. */
    uint64_t (*bar_size)(struct pci_func *f, int bar);
    /*
     * Register access of width 1, 2, 4 or 8 bytes at an offset the caller has checked against
     * bar_size (virtio_pci.c validates every capability region once).
     */
    uint64_t (*bar_read)(struct pci_func *f, int bar, uint64_t off, int width);
    void (*bar_write)(struct pci_func *f, int bar, uint64_t off, int width, uint64_t val);
    /*
     * Zeroed DMA memory of `size` bytes, page aligned, contiguous in device address space.
     * -E2BIG if size exceeds dma_max_contig, -ENOMEM if none can be had.
     */
    int (*dma_alloc)(struct pci_func *f, size_t size, struct pci_dma *out);
    void (*dma_free)(struct pci_func *f, struct pci_dma *dma);
    /*
     * A pollable fd, readable (POLLIN) when an interrupt may be pending. After it polls
     * readable the caller calls irq_ack() and then reads the ISR: a level-triggered INTx line
     * is re-enabled by irq_ack, and the ISR read deasserts it.
     */
    int (*irq_fd)(struct pci_func *f);
    void (*irq_ack)(struct pci_func *f);
    /* Releases the function and everything it maps. */
    void (*destroy)(struct pci_func *f);
};

struct pci_func {
    const struct pci_func_ops *ops;
    size_t dma_max_contig; /* largest DMA object dma_alloc can return */
    char name[64];         /* for messages: "sim", "uio:0000:00:04.0" */
};

/*
 * Opens the PCI function a device URI names ("sim...", "uio:BDF"). On error, *why gets a
 * static or thread-local sentence. Returns -EINVAL (bad URI), -ENOTSUP (unknown scheme), or
 * the transport's error.
 */
int pci_func_open(const char *uri, struct pci_func **out, const char **why);

static inline void pci_func_destroy(struct pci_func *f)
{
    if (f)
        f->ops->destroy(f);
}

#endif /* UVSOCK_PCI_FUNC_H */
