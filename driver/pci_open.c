/* SPDX-License-Identifier: MIT */
/*
 * Device URIs to PCI functions: "<scheme>[:<args>]". Each transport is one row of a table,
 * so a new transport adds a row, not a new API.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci_func.h"
#include "sim/sim.h"
#include "uio.h"

/* Opens a transport; `args` is what follows "<scheme>:", NULL if there is no colon. */
typedef int (*pci_open_fn)(const char *args, struct pci_func **out, const char **why);

struct pci_scheme {
    const char *name;
    pci_open_fn open;
};

static const struct pci_scheme schemes[] = {
    {"sim", sim_pci_open},
    {"uio", uio_pci_open},
};

int pci_func_open(const char *uri, struct pci_func **out, const char **why)
{
    static _Thread_local char msg[96];
    const char *ignored;

    if (!why)
        why = &ignored;
    *why = NULL;
    if (!out) {
        *why = "no place to return the PCI function";
        return -EINVAL;
    }
    *out = NULL;

    /* The simulated device is the default, so the toolkit works with no hardware. */
    if (!uri || !*uri)
        uri = "sim";

    const char *colon = strchr(uri, ':');
    size_t name_len = colon ? (size_t)(colon - uri) : strlen(uri);
    const char *args = colon ? colon + 1 : NULL;

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strlen(schemes[i].name) == name_len && memcmp(schemes[i].name, uri, name_len) == 0) {
            int rc = schemes[i].open(args, out, why);
            if (rc < 0)
                *out = NULL;
            return rc;
        }
    }

    /* Quote at most 32 bytes of the scheme: the sentence must stay readable. */
    snprintf(msg, sizeof(msg), "unknown device scheme '%.*s' (expected sim or uio)",
             name_len > 32 ? 32 : (int)name_len, uri);
    *why = msg;
    return -ENOTSUP;
}
