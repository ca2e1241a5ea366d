/* SPDX-License-Identifier: MIT */
/*
 * The simulated device as a PCI function (driver-internal entry points; the control surface
 * for users is core/include/uvsock_sim.h).
 */
#ifndef UVSOCK_SIM_H_INTERNAL
#define UVSOCK_SIM_H_INTERNAL

#include "../pci_func.h"

struct uvsock_sim;

/*
 * Creates a simulated virtio-vsock PCI function and starts its device thread.
 * `args` is what follows "sim:" in the URI (may be "" or NULL): comma-separated options
 *   cid=N             guest_cid (default 3)
 *   uds=PATH          hybrid vsock unix socket (see uvsock_sim.h)
 *   queue_size=N      maximum queue size the device offers (default 256, power of two)
 *   credit=N          buf_alloc the host advertises (default 262144)
 *   no_event_idx=1    do not offer VIRTIO_F_EVENT_IDX
 *   refuse_features=1 clear FEATURES_OK when the driver sets it (negotiation failure test)
 *   no_version_1=1    do not offer VIRTIO_F_VERSION_1
 * -EINVAL with *why set for a bad option.
 */
int sim_pci_open(const char *args, struct pci_func **out, const char **why);

/* The sim behind a PCI function, NULL if `f` is not simulated. */
struct uvsock_sim *sim_from_pci_func(struct pci_func *f);

#endif
