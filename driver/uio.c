/* SPDX-License-Identifier: MIT */
/*
 * The PCI-function interface over Linux UIO, for a virtio-vsock function bound to
 * uio_pci_generic (Documentation/driver-api/uio-howto.rst):
 *
 * - config space through sysfs `config` (pread/pwrite; the kernel serialises the accesses);
 * - memory BARs through mmaps of sysfs `resourceN`, sizes from the `resource` file;
 * - INTx through /dev/uioN: a 4-byte read returns the interrupt count and the fd polls readable
 *   while a count is unread. uio_pci_generic masks INTx (the command register's Interrupt
 *   Disable bit) in its handler, and a 4-byte write of 1 unmasks it again;
 * - DMA memory from uio_dma.c (device address = physical address).
 *
 * virtio_pci.c does the rest, including setting memory decoding and bus mastering.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "uio.h"
#include "virtio_pci.h"
#include "vsock_wire.h" /* the ids: uio: opens virtio socket devices only */

#define UIO_DRIVER       "uio_pci_generic"
#define IORESOURCE_MEM   0x200ull /* include/linux/ioport.h, as printed in sysfs `resource` */
#define BAR_COUNT        6
#define POLL_US_DEFAULT  50
#define POLL_US_MAX      1000000
#define CFG_SIZE_DEFAULT 256

struct uio_opts {
    char bdf[32];
    bool poll;
    long poll_us;
    enum uio_dma_mode dma;
    const char *sysfs, *dev, *pagemap;
    char buf[PATH_MAX * 3]; /* the option values point into this copy of the URI */
};

struct uio_bar {
    volatile uint8_t *base;
    uint64_t size;
};

struct uio_func {
    struct pci_func func;
    int cfg_fd;
    uint32_t cfg_size;
    int uio_fd;
    int poll_fd; /* poll mode: a timerfd, or an eventfd that is always readable */
    bool poll_spin;
    struct uio_bar bar[BAR_COUNT];
    struct uio_dma *dma;
};

static _Thread_local char uio_msg[512];

static struct uio_func *to_uio(struct pci_func *f)
{
    return (struct uio_func *)((char *)f - offsetof(struct uio_func, func));
}

/* ---------------------------------------------------------------- register access -- */

/*
 * MMIO must be ordered against the ring memory the device reads: a notify written after a
 * ring update must not pass it. x86 keeps stores in order and the BAR mapping is uncached, so
 * a compiler barrier is enough there; elsewhere a full fence stands in for the kernel's
 * wmb()/rmb() around writel()/readl().
 */
static inline void mmio_barrier(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* A register access is valid if the BAR is mapped and the access lies inside it, aligned. */
static volatile uint8_t *reg(struct uio_func *u, int bar, uint64_t off, int width)
{
    if (bar < 0 || bar >= BAR_COUNT || !u->bar[bar].base)
        return NULL;
    if (width != 1 && width != 2 && width != 4 && width != 8)
        return NULL;
    if (off > u->bar[bar].size || u->bar[bar].size - off < (uint64_t)width ||
        (off & (uint64_t)(width - 1)))
        return NULL;
    return u->bar[bar].base + off;
}

/* Invalid accesses read all ones, as a PCI read that nobody claims does. */
static uint64_t uio_bar_read(struct pci_func *f, int bar, uint64_t off, int width)
{
    volatile uint8_t *p = reg(to_uio(f), bar, off, width);
    uint64_t v;

    if (!p)
        return ~0ull;
    mmio_barrier();
    switch (width) {
    case 1:
        v = *p;
        break;
    case 2:
        v = *(volatile uint16_t *)p;
        break;
    case 4:
        v = *(volatile uint32_t *)p;
        break;
    default:
        v = *(volatile uint64_t *)p;
        break;
    }
    mmio_barrier();
    return v;
}

static void uio_bar_write(struct pci_func *f, int bar, uint64_t off, int width, uint64_t val)
{
    volatile uint8_t *p = reg(to_uio(f), bar, off, width);

    if (!p)
        return;
    mmio_barrier();
    switch (width) {
    case 1:
        *p = (uint8_t)val;
        break;
    case 2:
        *(volatile uint16_t *)p = (uint16_t)val;
        break;
    case 4:
        *(volatile uint32_t *)p = (uint32_t)val;
        break;
    default:
        *(volatile uint64_t *)p = val;
        break;
    }
    mmio_barrier();
}

static uint64_t uio_bar_size(struct pci_func *f, int bar)
{
    struct uio_func *u = to_uio(f);

    return bar >= 0 && bar < BAR_COUNT && u->bar[bar].base ? u->bar[bar].size : 0;
}

static int uio_cfg_read(struct pci_func *f, uint32_t off, void *buf, size_t len)
{
    struct uio_func *u = to_uio(f);

    if (!buf || off > u->cfg_size || len > u->cfg_size - off)
        return -EINVAL;
    ssize_t n = pread(u->cfg_fd, buf, len, off);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

static int uio_cfg_write(struct pci_func *f, uint32_t off, const void *buf, size_t len)
{
    struct uio_func *u = to_uio(f);

    if (!buf || off > u->cfg_size || len > u->cfg_size - off)
        return -EINVAL;
    ssize_t n = pwrite(u->cfg_fd, buf, len, off);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

/* ------------------------------------------------------------------- interrupts -- */

static int uio_irq_fd(struct pci_func *f)
{
    struct uio_func *u = to_uio(f);

    return u->poll_fd >= 0 ? u->poll_fd : u->uio_fd;
}

static void uio_irq_ack(struct pci_func *f)
{
    struct uio_func *u = to_uio(f);

    if (u->poll_fd >= 0) {
        uint64_t ticks;
        /* A spinning eventfd stays readable; a timerfd is drained until its next tick. */
        if (!u->poll_spin && read(u->poll_fd, &ticks, sizeof(ticks)) < 0) {
            /* EAGAIN: no tick since the last one */
        }
        return;
    }
    /*
     * Consume the count (the fd stops polling readable), then unmask INTx. uio_pci_generic's
     * handler masks the line by setting Interrupt Disable in the command register and has no
     * irqcontrol, so writing 1 to /dev/uioN fails (ENOSYS) there: the driver must clear the
     * bit itself, through config space. Drivers with irqcontrol (igb_uio) take the write.
     * If the device still asserts the line it fires again at once, and the ISR read that
     * follows deasserts it.
     */
    int32_t count, on = 1;
    uint16_t cmd;
    if (read(u->uio_fd, &count, sizeof(count)) < 0) {
        /* EAGAIN: nothing pending, a spurious wake-up */
    }
    if (write(u->uio_fd, &on, sizeof(on)) == sizeof(on))
        return;
    if (pread(u->cfg_fd, &cmd, sizeof(cmd), PCI_COMMAND) == sizeof(cmd) &&
        (cmd & PCI_COMMAND_INTX_DISABLE)) {
        cmd &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
        if (pwrite(u->cfg_fd, &cmd, sizeof(cmd), PCI_COMMAND) != sizeof(cmd)) {
            /* Nothing better to do: the next poll times out and the core polls the rings. */
        }
    }
}

/* --------------------------------------------------------------------------- DMA -- */

static int uio_dma_alloc_op(struct pci_func *f, size_t size, struct pci_dma *out)
{
    return uio_dma_alloc(to_uio(f)->dma, size, out);
}

static void uio_dma_free_op(struct pci_func *f, struct pci_dma *dma)
{
    uio_dma_free(to_uio(f)->dma, dma);
}

/* ---------------------------------------------------------------------- lifetime -- */

static void uio_destroy(struct pci_func *f)
{
    struct uio_func *u = to_uio(f);

    /*
     * Bus mastering off before the DMA memory goes back to the kernel: a device that was not
     * reset must not write into pages someone else now owns.
     */
    if (u->cfg_fd >= 0) {
        uint16_t cmd;
        if (uio_cfg_read(f, PCI_COMMAND, &cmd, sizeof(cmd)) == 0) {
            cmd &= (uint16_t)~PCI_COMMAND_MASTER;
            (void)uio_cfg_write(f, PCI_COMMAND, &cmd, sizeof(cmd));
        }
        close(u->cfg_fd);
    }
    uio_dma_destroy(u->dma);
    for (int b = 0; b < BAR_COUNT; b++)
        if (u->bar[b].base)
            munmap((void *)u->bar[b].base, u->bar[b].size);
    if (u->uio_fd >= 0)
        close(u->uio_fd);
    if (u->poll_fd >= 0)
        close(u->poll_fd);
    free(u);
}

static const struct pci_func_ops uio_ops = {
    .cfg_read = uio_cfg_read,
    .cfg_write = uio_cfg_write,
    .bar_size = uio_bar_size,
    .bar_read = uio_bar_read,
    .bar_write = uio_bar_write,
    .dma_alloc = uio_dma_alloc_op,
    .dma_free = uio_dma_free_op,
    .irq_fd = uio_irq_fd,
    .irq_ack = uio_irq_ack,
    .destroy = uio_destroy,
};

/* ---------------------------------------------------------------------- opening -- */

static int fail(const char **why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(const char **why, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(uio_msg, sizeof(uio_msg), fmt, ap);
    va_end(ap);
    *why = uio_msg;
    return rc;
}

/* A sentence for a failed open(2) of a sysfs or /dev file. */
static int open_failed(const char **why, const char *path, int err)
{
    if (err == EACCES || err == EPERM)
        return fail(why, -EACCES, "permission denied opening %s: uio devices need root", path);
    return fail(why, -err, "cannot open %s: %s", path, strerror(err));
}

/* "DDDD:BB:DD.F" or "BB:DD.F" to the canonical sysfs name; false if malformed. */
static bool parse_bdf(const char *s, size_t len, char *out, size_t out_len)
{
    char tmp[32], tail;
    unsigned dom = 0, bus, dev, fn;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    if (strspn(tmp, "0123456789abcdefABCDEF:.") != len)
        return false;
    if (sscanf(tmp, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) != 4) {
        dom = 0;
        if (sscanf(tmp, "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3)
            return false;
    }
    if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
        return false;
    snprintf(out, out_len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return true;
}

static int parse_opts(const char *args, struct uio_opts *o, const char **why)
{
    memset(o, 0, sizeof(*o));
    o->poll_us = POLL_US_DEFAULT;
    o->dma = UIO_DMA_AUTO;
    if (!args || !*args)
        return fail(why, -EINVAL, "uio needs a PCI address: uio:0000:00:04.0");
    if (strlen(args) >= sizeof(o->buf))
        return fail(why, -EINVAL, "uio URI too long");
    strcpy(o->buf, args);

    char *save = NULL;
    char *tok = strtok_r(o->buf, ",", &save);
    if (!tok || !parse_bdf(tok, strlen(tok), o->bdf, sizeof(o->bdf)))
        return fail(why, -EINVAL,
                    "bad PCI address '%.40s' (expected DDDD:BB:DD.F, e.g. "
                    "0000:00:04.0)",
                    tok ? tok : "");
    while ((tok = strtok_r(NULL, ",", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq)
            return fail(why, -EINVAL, "uio option '%.40s' needs a value (name=value)", tok);
        *eq = 0;
        const char *v = eq + 1;
        char *end;
        if (!strcmp(tok, "poll")) {
            if (strcmp(v, "0") && strcmp(v, "1"))
                return fail(why, -EINVAL, "uio option poll takes 0 or 1");
            o->poll = v[0] == '1';
        } else if (!strcmp(tok, "poll_us")) {
            errno = 0;
            o->poll_us = strtol(v, &end, 10);
            if (!*v || *end || errno || o->poll_us < 0 || o->poll_us > POLL_US_MAX)
                return fail(why, -EINVAL, "uio option poll_us takes 0 to %d", POLL_US_MAX);
        } else if (!strcmp(tok, "dma")) {
            if (!strcmp(v, "auto"))
                o->dma = UIO_DMA_AUTO;
            else if (!strcmp(v, "huge"))
                o->dma = UIO_DMA_HUGE;
            else if (!strcmp(v, "pages"))
                o->dma = UIO_DMA_PAGES;
            else
                return fail(why, -EINVAL, "uio option dma takes auto, huge or pages");
        } else if (!strcmp(tok, "sysfs")) {
            o->sysfs = v;
        } else if (!strcmp(tok, "dev")) {
            o->dev = v;
        } else if (!strcmp(tok, "pagemap")) {
            o->pagemap = v;
        } else {
            return fail(why, -EINVAL,
                        "unknown uio option '%.32s' (expected poll, poll_us, dma, sysfs, dev, "
                        "pagemap)",
                        tok);
        }
    }
    if (!o->sysfs)
        o->sysfs = getenv("UVSOCK_SYSFS_ROOT");
    if (!o->sysfs || !*o->sysfs)
        o->sysfs = "/sys";
    if (!o->dev)
        o->dev = getenv("UVSOCK_DEV_ROOT");
    if (!o->dev || !*o->dev)
        o->dev = "/dev";
    return 0;
}

static bool join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s/%s", a, b);
    return n > 0 && (size_t)n < len;
}

/* A sysfs attribute holding one hex number ("0x1af4\n"); -1 if unreadable. */
static long read_hex_attr(const char *dir, const char *name)
{
    char path[PATH_MAX], buf[32];
    long v = -1;

    if (!join(path, sizeof(path), dir, name))
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    if (fgets(buf, sizeof(buf), f)) {
        char *end;
        v = strtol(buf, &end, 16);
        if (end == buf)
            v = -1;
    }
    fclose(f);
    return v;
}

/* The name of the bound driver into `out` ("" if none); false if it cannot be told. */
static bool bound_driver(const char *devdir, char *out, size_t len)
{
    char path[PATH_MAX], target[PATH_MAX];

    out[0] = 0;
    if (!join(path, sizeof(path), devdir, "driver"))
        return false;
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return errno == ENOENT;
    target[n] = 0;
    const char *slash = strrchr(target, '/');
    const char *name = slash ? slash + 1 : target;
    size_t name_len = strlen(name);
    if (name_len >= len)
        return false;
    memcpy(out, name, name_len + 1);
    return true;
}

/* "uioN" under <devdir>/uio; false if there is none. */
static bool find_uio_node(const char *devdir, char *out, size_t len)
{
    char path[PATH_MAX];
    bool found = false;

    if (!join(path, sizeof(path), devdir, "uio"))
        return false;
    DIR *d = opendir(path);
    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strncmp(e->d_name, "uio", 3) && e->d_name[3] >= '0' && e->d_name[3] <= '9' &&
            strlen(e->d_name) < len) {
            snprintf(out, len, "%s", e->d_name);
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

/*
 * uio_pci_generic gives the device no IOMMU mapping: its DMA addresses must be physical. If
 * an IOMMU translates for this device (group type DMA or DMA-FQ), nothing we hand it works.
 */
static bool iommu_translates(const char *devdir)
{
    char path[PATH_MAX], buf[32] = "";

    if (!join(path, sizeof(path), devdir, "iommu_group/type"))
        return false;
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool dma = fgets(buf, sizeof(buf), f) && !strncmp(buf, "DMA", 3);
    fclose(f);
    return dma;
}

/* Maps every memory BAR the `resource` file lists (lines "start end flags", BARs 0..5). */
static int map_bars(struct uio_func *u, const char *devdir, const char **why)
{
    char path[PATH_MAX], line[128];

    if (!join(path, sizeof(path), devdir, "resource"))
        return fail(why, -ENAMETOOLONG, "sysfs path too long");
    FILE *f = fopen(path, "re");
    if (!f)
        return open_failed(why, path, errno);
    for (int b = 0; b < BAR_COUNT && fgets(line, sizeof(line), f); b++) {
        unsigned long long start, end, flags;
        if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3) {
            fclose(f);
            return fail(why, -EIO, "cannot parse line %d of %s", b + 1, path);
        }
        if (!(flags & IORESOURCE_MEM) || end <= start)
            continue; /* absent, the upper half of a 64-bit BAR, or an I/O BAR */
        uint64_t size = end - start + 1;
        char name[16];
        snprintf(name, sizeof(name), "resource%d", b);
        if (!join(path, sizeof(path), devdir, name)) {
            fclose(f);
            return fail(why, -ENAMETOOLONG, "sysfs path too long");
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            fclose(f);
            return open_failed(why, path, errno);
        }
        struct stat st;
        /* Touching a mapping past the end of the file would be SIGBUS, not an error. */
        if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size) {
            close(fd);
            fclose(f);
            return fail(why, -EIO, "%s is smaller than BAR %d (%llu bytes)", path, b,
                        (unsigned long long)size);
        }
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        int err = errno;
        close(fd); /* the mapping keeps the BAR */
        if (p == MAP_FAILED) {
            fclose(f);
            return fail(why, err == EPERM ? -EPERM : -EIO, "cannot map BAR %d (%s): %s%s", b, path,
                        strerror(err),
                        err == EPERM ? " (kernel lockdown forbids BAR access?)" : "");
        }
        u->bar[b].base = p;
        u->bar[b].size = size;
    }
    fclose(f);
    return 0;
}

static int open_config(struct uio_func *u, const char *devdir, const char **why)
{
    char path[PATH_MAX];
    struct stat st;

    if (!join(path, sizeof(path), devdir, "config"))
        return fail(why, -ENAMETOOLONG, "sysfs path too long");
    u->cfg_fd = open(path, O_RDWR | O_CLOEXEC);
    if (u->cfg_fd < 0)
        return open_failed(why, path, errno);
    /* 256 bytes for PCI, 4096 for PCIe; sysfs reports the size. */
    u->cfg_size = fstat(u->cfg_fd, &st) == 0 && st.st_size >= 64 && st.st_size <= 4096
                      ? (uint32_t)st.st_size
                      : CFG_SIZE_DEFAULT;
    return 0;
}

static int open_irq(struct uio_func *u, const struct uio_opts *o, const char *node,
                    const char **why)
{
    char path[PATH_MAX];

    if (!join(path, sizeof(path), o->dev, node))
        return fail(why, -ENAMETOOLONG, "device path too long");
    u->uio_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (u->uio_fd < 0) {
        if (errno == ENOENT)
            return fail(why, -ENODEV, "%s does not exist (is devtmpfs mounted on /dev?)", path);
        return open_failed(why, path, errno);
    }
    if (!o->poll)
        return 0;
    if (o->poll_us == 0) {
        /* Spinning: an eventfd with a count nobody reads is always readable. */
        u->poll_spin = true;
        u->poll_fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    } else {
        u->poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (u->poll_fd >= 0) {
            struct timespec ts = {.tv_sec = o->poll_us / 1000000,
                                  .tv_nsec = (o->poll_us % 1000000) * 1000};
            struct itimerspec its = {.it_interval = ts, .it_value = ts};
            if (timerfd_settime(u->poll_fd, 0, &its, NULL) < 0)
                return fail(why, -errno, "cannot start the poll timer: %s", strerror(errno));
        }
    }
    if (u->poll_fd < 0)
        return fail(why, -errno, "cannot create the poll fd: %s", strerror(errno));
    return 0;
}

/* Checks that <devdir> is a virtio socket device bound to uio_pci_generic; finds uioN. */
static int check_device(const struct uio_opts *o, const char *devdir, char *node, size_t node_len,
                        const char **why)
{
    struct stat st;
    char drv[NAME_MAX + 1];

    if (stat(devdir, &st) < 0) {
        if (errno == EACCES)
            return open_failed(why, devdir, errno);
        return fail(why, -ENODEV,
                    "no PCI device %s (%s does not exist; uvsock-bind --list "
                    "shows virtio socket devices)",
                    o->bdf, devdir);
    }
    long vendor = read_hex_attr(devdir, "vendor");
    long device = read_hex_attr(devdir, "device");
    if (vendor < 0 || device < 0)
        return fail(why, -EIO, "cannot read the vendor and device ids of %s in %s", o->bdf, devdir);
    if (vendor != VIRTIO_PCI_VENDOR_ID || device != VIRTIO_PCI_VSOCK_ID)
        return fail(why, -ENOTSUP,
                    "%s is not a virtio socket device (%04lx:%04lx; a virtio socket device is "
                    "%04x:%04x)",
                    o->bdf, vendor, device, VIRTIO_PCI_VENDOR_ID, VIRTIO_PCI_VSOCK_ID);
    if (!bound_driver(devdir, drv, sizeof(drv)))
        return fail(why, -EIO, "cannot read the driver link of %s", devdir);
    if (!drv[0])
        return fail(why, -EBUSY, "%s is not bound to any driver: bind it to %s with uvsock-bind %s",
                    o->bdf, UIO_DRIVER, o->bdf);
    if (strcmp(drv, UIO_DRIVER))
        return fail(why, -EBUSY,
                    "%s is bound to %s, not %s: run uvsock-bind %s (uvsock-bind --unbind %s "
                    "gives it back)",
                    o->bdf, drv, UIO_DRIVER, o->bdf, o->bdf);
    if (!find_uio_node(devdir, node, node_len))
        return fail(why, -ENODEV, "%s is bound to %s but has no uio device under %s/uio", o->bdf,
                    UIO_DRIVER, devdir);
    if (iommu_translates(devdir))
        return fail(why, -ENOTSUP,
                    "an IOMMU translates DMA for %s, and uio gives no way to map memory for it: "
                    "boot with iommu=pt or without a (v)IOMMU",
                    o->bdf);
    return 0;
}

int uio_pci_open(const char *args, struct pci_func **out, const char **why)
{
    const char *ignored;
    char devdir[PATH_MAX], path[PATH_MAX], node[NAME_MAX + 1];
    int rc;

    if (!why)
        why = &ignored;
    if (!out)
        return fail(why, -EINVAL, "no place to return the PCI function");
    *out = NULL;

    struct uio_opts *o = malloc(sizeof(*o));
    if (!o)
        return fail(why, -ENOMEM, "out of memory");
    rc = parse_opts(args, o, why);
    if (rc < 0)
        goto out_opts;
    if (snprintf(devdir, sizeof(devdir), "%s/bus/pci/devices/%s", o->sysfs, o->bdf) >=
        (int)sizeof(devdir)) {
        rc = fail(why, -ENAMETOOLONG, "sysfs path too long");
        goto out_opts;
    }
    rc = check_device(o, devdir, node, sizeof(node), why);
    if (rc < 0)
        goto out_opts;

    struct uio_func *u = calloc(1, sizeof(*u));
    if (!u) {
        rc = fail(why, -ENOMEM, "out of memory");
        goto out_opts;
    }
    u->cfg_fd = u->uio_fd = u->poll_fd = -1;
    u->func.ops = &uio_ops;
    snprintf(u->func.name, sizeof(u->func.name), "uio:%s", o->bdf);

    if ((rc = open_config(u, devdir, why)) < 0 || (rc = map_bars(u, devdir, why)) < 0 ||
        (rc = open_irq(u, o, node, why)) < 0)
        goto out_func;

    /* Memory decoding and bus mastering: virtio_pci does it too, but a function opened only
     * to look at it should already answer its BARs. */
    uint16_t cmd;
    rc = uio_cfg_read(&u->func, PCI_COMMAND, &cmd, sizeof(cmd));
    if (rc == 0) {
        cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
        rc = uio_cfg_write(&u->func, PCI_COMMAND, &cmd, sizeof(cmd));
    }
    if (rc < 0) {
        rc = fail(why, rc, "cannot enable bus mastering of %s through its config space: %s", o->bdf,
                  strerror(-rc));
        goto out_func;
    }

    if (!join(path, sizeof(path), o->sysfs, "kernel/mm/hugepages/hugepages-2048kB")) {
        rc = fail(why, -ENAMETOOLONG, "sysfs path too long");
        goto out_func;
    }
    rc = uio_dma_create(o->dma, path, o->pagemap, &u->dma, why);
    if (rc < 0)
        goto out_func;
    u->func.dma_max_contig = uio_dma_max_contig(u->dma);
    *out = &u->func;
    free(o);
    return 0;

out_func:
    uio_destroy(&u->func);
out_opts:
    free(o);
    return rc;
}
