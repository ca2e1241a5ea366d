/* SPDX-License-Identifier: MIT */
/*
 * The "sim:" URI options (documented in sim.h): cid, uds, queue_size, credit, no_event_idx,
 * refuse_features, no_version_1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

static int parse_u32(const char *v, uint64_t max, uint32_t *out)
{
    char *end;
    unsigned long long n;

    if (!v || !*v || *v == '-')
        return -EINVAL;
    errno = 0;
    n = strtoull(v, &end, 0);
    if (errno || *end || n > max)
        return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

static bool cid_reserved(uint64_t cid)
{
    return cid <= VSOCK_CID_HOST || cid >= 0xffffffffull;
}

int sim_parse_options(struct uvsock_sim *s, const char *args, const char **why)
{
    char *copy, *save = NULL;
    int rc = 0;
    uint32_t v;

    if (!args || !*args)
        return 0;
    copy = strdup(args);
    if (!copy)
        return -ENOMEM;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *val = strchr(tok, '=');
        if (val)
            *val++ = '\0';
        if (!strcmp(tok, "cid")) {
            rc = parse_u32(val, UINT32_MAX, &v);
            if (rc || cid_reserved(v)) {
                *why = "sim: cid must be a number other than 0, 1, 2 and 0xffffffff";
                rc = -EINVAL;
            }
            s->guest_cid = v;
        } else if (!strcmp(tok, "uds")) {
            free(s->uds_path);
            s->uds_path = val && *val ? strdup(val) : NULL;
            if (!s->uds_path) {
                *why = "sim: uds needs a path";
                rc = -EINVAL;
            }
        } else if (!strcmp(tok, "queue_size")) {
            rc = parse_u32(val, VIRTQUEUE_MAX_SIZE, &v);
            if (rc || v < 2 || (v & (v - 1))) {
                *why = "sim: queue_size must be a power of two from 2 to 32768";
                rc = -EINVAL;
            }
            s->max_queue_size = (uint16_t)v;
        } else if (!strcmp(tok, "credit")) {
            rc = parse_u32(val, UINT32_MAX, &v);
            if (rc || v == 0) {
                *why = "sim: credit must be a positive number";
                rc = -EINVAL;
            }
            s->host_buf_alloc = v;
        } else if (!strcmp(tok, "no_event_idx") || !strcmp(tok, "refuse_features") ||
                   !strcmp(tok, "no_version_1")) {
            if (parse_u32(val ? val : "1", 1, &v)) {
                *why = "sim: flag options take 0 or 1";
                rc = -EINVAL;
            } else if (tok[0] == 'r') {
                s->refuse_features = v;
            } else if (v) {
                s->device_features &=
                    ~(1ull << (tok[3] == 'e' ? VIRTIO_F_EVENT_IDX : VIRTIO_F_VERSION_1));
            }
        } else {
            *why = "sim: unknown option (cid, uds, queue_size, credit, no_event_idx, "
                   "refuse_features, no_version_1)";
            rc = -EINVAL;
        }
    }
    free(copy);
    return rc;
}
