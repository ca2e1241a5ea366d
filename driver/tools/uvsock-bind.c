/* SPDX-License-Identifier: MIT */
/*
 * uvsock-bind: hands a virtio socket PCI function (1af4:1053) to uio_pci_generic so that
 * uvsock can open it as uio:BDF, and gives it back to its previous driver afterwards.
 *
 *   uvsock-bind --list           candidate devices with their current driver
 *   uvsock-bind BDF              bind BDF to uio_pci_generic, remembering the old driver
 *   uvsock-bind --unbind BDF     restore the remembered driver (or let the kernel probe)
 *
 * Binding uses the sysfs interfaces of Documentation/ABI/testing/sysfs-bus-pci:
 * driver/unbind, driver_override + drivers/<name>/bind, or new_id where driver_override is
 * missing. The previous driver is kept in $UVSOCK_STATE_DIR (default /run/uvsock)/BDF.driver.
 * $UVSOCK_SYSFS_ROOT replaces /sys and $UVSOCK_MODPROBE the modprobe command, for tests.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UIO_DRIVER "uio_pci_generic"
#define VENDOR     0x1af4
#define DEVICE     0x1053

static const char *sysfs = "/sys";
static const char *state_dir = "/run/uvsock";

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...)
{
    va_list ap;

    fputs("uvsock-bind: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static void path_of(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_of(char *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) {
        die("path too long");
        exit(1);
    }
}

/* Writes `text` to a sysfs attribute in one write(2), as sysfs wants; 0 or -errno. */
static int write_attr(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IONBF, 0);
    int rc = fputs(text, f) == EOF ? -errno : 0;
    if (fclose(f) == EOF && rc == 0)
        rc = -errno;
    return rc;
}

static bool read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = 0;
    return ok;
}

static long read_hex(const char *dev, const char *attr)
{
    char path[PATH_MAX], buf[32];

    path_of(path, "%s/bus/pci/devices/%s/%s", sysfs, dev, attr);
    if (!read_line(path, buf, sizeof(buf)))
        return -1;
    char *end;
    long v = strtol(buf, &end, 16);
    return end == buf ? -1 : v;
}

/* The bound driver's name into `out` ("" if none). */
static void driver_of(const char *dev, char *out, size_t len)
{
    char path[PATH_MAX], target[PATH_MAX];

    out[0] = 0;
    path_of(path, "%s/bus/pci/devices/%s/driver", sysfs, dev);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return;
    target[n] = 0;
    const char *slash = strrchr(target, '/');
    const char *name = slash ? slash + 1 : target;
    if (strlen(name) < len)
        memcpy(out, name, strlen(name) + 1);
}

/* "uioN" of a device bound to uio, "" if none. */
static void uio_of(const char *dev, char *out, size_t len)
{
    char path[PATH_MAX];

    out[0] = 0;
    path_of(path, "%s/bus/pci/devices/%s/uio", sysfs, dev);
    DIR *d = opendir(path);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "uio", 3) && e->d_name[3] >= '0' && e->d_name[3] <= '9') {
            snprintf(out, len, "%s", e->d_name);
            break;
        }
    closedir(d);
}

/* "DDDD:BB:DD.F" or "BB:DD.F" to the canonical sysfs name. */
static bool parse_bdf(const char *s, char *out, size_t len)
{
    unsigned dom = 0, bus, dev, fn;
    char tail;

    if (strlen(s) > 16 || strspn(s, "0123456789abcdefABCDEF:.") != strlen(s))
        return false;
    if (sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) != 4) {
        dom = 0;
        if (sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3)
            return false;
    }
    if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
        return false;
    snprintf(out, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return true;
}

static int cmd_list(void)
{
    char path[PATH_MAX], drv[NAME_MAX + 1], uio[NAME_MAX + 1];
    struct dirent **names;
    int found = 0;

    path_of(path, "%s/bus/pci/devices", sysfs);
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0)
        return die("cannot list %s: %s", path, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *dev = names[i]->d_name;
        if (dev[0] != '.' && read_hex(dev, "vendor") == VENDOR &&
            read_hex(dev, "device") == DEVICE) {
            driver_of(dev, drv, sizeof(drv));
            uio_of(dev, uio, sizeof(uio));
            if (!found++)
                printf("%-14s %-18s %s\n", "BDF", "DRIVER", "USE");
            if (!strcmp(drv, UIO_DRIVER))
                printf("%-14s %-18s uio:%s (/dev/%s)\n", dev, drv, dev, uio[0] ? uio : "uio?");
            else
                printf("%-14s %-18s uvsock-bind %s\n", dev, drv[0] ? drv : "(none)", dev);
        }
        free(names[i]);
    }
    free(names);
    if (!found)
        printf("no virtio socket devices (%04x:%04x) in %s\n", VENDOR, DEVICE, path);
    return 0;
}

/* Loads uio_pci_generic if its sysfs driver directory is missing. */
static int ensure_uio_driver(void)
{
    char path[PATH_MAX];
    struct stat st;

    path_of(path, "%s/bus/pci/drivers/%s", sysfs, UIO_DRIVER);
    if (stat(path, &st) == 0)
        return 0;
    const char *modprobe = getenv("UVSOCK_MODPROBE");
    if (!modprobe || !*modprobe)
        modprobe = "modprobe";
    printf("loading %s (%s %s)\n", UIO_DRIVER, modprobe, UIO_DRIVER);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execlp(modprobe, modprobe, UIO_DRIVER, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        stat(path, &st) != 0)
        return die("cannot load %s: '%s %s' failed%s; load the uio and uio_pci_generic "
                   "modules (modprobe or insmod) and try again",
                   UIO_DRIVER, modprobe, UIO_DRIVER,
                   WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (no such command)" : "");
    return 0;
}

static int write_or_die(const char *path, const char *text, const char *what)
{
    int rc = write_attr(path, text);
    if (rc == -EACCES || rc == -EPERM)
        return die("%s: permission denied writing %s: run as root", what, path);
    if (rc < 0)
        return die("%s: writing '%s' to %s failed: %s", what, text, path, strerror(-rc));
    return 0;
}

static int cmd_bind(const char *dev)
{
    char path[PATH_MAX], drv[NAME_MAX + 1], uio[NAME_MAX + 1];
    struct stat st;

    path_of(path, "%s/bus/pci/devices/%s", sysfs, dev);
    if (stat(path, &st) < 0)
        return die("no PCI device %s (uvsock-bind --list shows the candidates)", dev);
    long vendor = read_hex(dev, "vendor"), device = read_hex(dev, "device");
    if (vendor != VENDOR || device != DEVICE)
        return die("%s is not a virtio socket device (%04lx:%04lx; expected %04x:%04x)", dev,
                   vendor & 0xffff, device & 0xffff, VENDOR, DEVICE);
    driver_of(dev, drv, sizeof(drv));
    if (!strcmp(drv, UIO_DRIVER)) {
        uio_of(dev, uio, sizeof(uio));
        printf("%s is already bound to %s (/dev/%s); open it as uio:%s\n", dev, UIO_DRIVER,
               uio[0] ? uio : "uio?", dev);
        return 0;
    }
    if (ensure_uio_driver())
        return 1;

    /* Remember the driver before letting it go, so --unbind can give the device back. */
    if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
        return die("cannot create %s: %s", state_dir, strerror(errno));
    path_of(path, "%s/%s.driver", state_dir, dev);
    char line[NAME_MAX + 2];
    snprintf(line, sizeof(line), "%s\n", drv);
    /* An unbound device may be one an earlier, failed bind left: keep what that one saved. */
    if ((drv[0] || stat(path, &st) < 0) && write_attr(path, line) < 0)
        return die("cannot remember the driver in %s: %s", path, strerror(errno));

    if (drv[0]) {
        path_of(path, "%s/bus/pci/devices/%s/driver/unbind", sysfs, dev);
        if (write_or_die(path, dev, "unbinding from the current driver"))
            return 1;
    }
    path_of(path, "%s/bus/pci/devices/%s/driver_override", sysfs, dev);
    if (stat(path, &st) == 0) {
        if (write_or_die(path, UIO_DRIVER, "setting driver_override"))
            return 1;
        path_of(path, "%s/bus/pci/drivers/%s/bind", sysfs, UIO_DRIVER);
        if (write_or_die(path, dev, "binding"))
            return 1;
    } else {
        /* Kernels without driver_override: teach the driver the id, which also probes. */
        path_of(path, "%s/bus/pci/drivers/%s/new_id", sysfs, UIO_DRIVER);
        int rc = write_attr(path, "1af4 1053");
        if (rc < 0 && rc != -EEXIST)
            return die("adding 1af4 1053 to %s's ids (%s) failed: %s", UIO_DRIVER, path,
                       strerror(-rc));
        driver_of(dev, drv, sizeof(drv));
        path_of(path, "%s/bus/pci/drivers/%s/bind", sysfs, UIO_DRIVER);
        if (strcmp(drv, UIO_DRIVER) && write_or_die(path, dev, "binding"))
            return 1;
    }
    driver_of(dev, drv, sizeof(drv));
    uio_of(dev, uio, sizeof(uio));
    if (strcmp(drv, UIO_DRIVER) || !uio[0])
        return die("binding %s to %s did not take (driver now '%s'%s); see dmesg", dev, UIO_DRIVER,
                   drv[0] ? drv : "none", uio[0] ? "" : ", no uio device");
    printf("%s bound to %s (/dev/%s); open it as uio:%s\n", dev, UIO_DRIVER, uio, dev);
    return 0;
}

static int cmd_unbind(const char *dev)
{
    char path[PATH_MAX], drv[NAME_MAX + 1], prev[NAME_MAX + 1] = "";
    struct stat st;

    path_of(path, "%s/bus/pci/devices/%s", sysfs, dev);
    if (stat(path, &st) < 0)
        return die("no PCI device %s", dev);
    char state[PATH_MAX];
    path_of(state, "%s/%s.driver", state_dir, dev);
    bool remembered = read_line(state, prev, sizeof(prev));

    driver_of(dev, drv, sizeof(drv));
    if (drv[0] && strcmp(drv, UIO_DRIVER))
        return die("%s is bound to %s, not %s: nothing to undo", dev, drv, UIO_DRIVER);
    if (drv[0]) {
        path_of(path, "%s/bus/pci/devices/%s/driver/unbind", sysfs, dev);
        if (write_or_die(path, dev, "unbinding from " UIO_DRIVER))
            return 1;
    }
    /* A newline clears driver_override; without that, only uio_pci_generic could bind. */
    path_of(path, "%s/bus/pci/devices/%s/driver_override", sysfs, dev);
    if (stat(path, &st) == 0 && write_or_die(path, "\n", "clearing driver_override"))
        return 1;
    /* A dynamic id added by new_id would make uio_pci_generic win the probe again. */
    path_of(path, "%s/bus/pci/drivers/%s/remove_id", sysfs, UIO_DRIVER);
    (void)write_attr(path, "1af4 1053");

    int rc = -ENOENT;
    if (prev[0]) {
        path_of(path, "%s/bus/pci/drivers/%s/bind", sysfs, prev);
        rc = write_attr(path, dev);
    }
    if (rc < 0) {
        /* No remembered driver, or it would not take the device: let the kernel choose. */
        path_of(path, "%s/bus/pci/drivers_probe", sysfs);
        if (write_or_die(path, dev, "asking the kernel to probe"))
            return 1;
    }
    if (remembered)
        unlink(state);
    driver_of(dev, drv, sizeof(drv));
    printf("%s released from %s; now bound to %s%s\n", dev, UIO_DRIVER, drv[0] ? drv : "none",
           remembered ? "" : " (no remembered driver: the kernel probed)");
    return 0;
}

static int usage(FILE *to)
{
    fputs("usage: uvsock-bind --list\n"
          "       uvsock-bind BDF            bind to uio_pci_generic (e.g. 0000:00:04.0)\n"
          "       uvsock-bind --unbind BDF   give it back to its previous driver\n",
          to);
    return to == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    char bdf[32];
    const char *env;

    if ((env = getenv("UVSOCK_SYSFS_ROOT")) && *env)
        sysfs = env;
    if ((env = getenv("UVSOCK_STATE_DIR")) && *env)
        state_dir = env;
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return usage(stdout);
    if (argc == 2 && !strcmp(argv[1], "--list"))
        return cmd_list();
    bool unbind = argc == 3 && !strcmp(argv[1], "--unbind");
    if (!(argc == 2 && argv[1][0] != '-') && !unbind)
        return usage(stderr);
    const char *arg = argv[argc - 1];
    if (!parse_bdf(arg, bdf, sizeof(bdf)))
        return die("bad PCI address '%s' (expected DDDD:BB:DD.F, e.g. 0000:00:04.0)", arg);
    return unbind ? cmd_unbind(bdf) : cmd_bind(bdf);
}
