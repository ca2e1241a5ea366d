/* SPDX-License-Identifier: MIT */
/* The library's only way to speak: a process-wide log function the application installs. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "device.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static uvsock_log_fn log_fn;
static void *log_ctx;
static enum uvsock_log_level log_max = UVSOCK_LOG_WARN;

void uvsock_set_log(uvsock_log_fn fn, void *ctx, enum uvsock_log_level max_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_ctx = ctx;
    log_max = max_level;
    pthread_mutex_unlock(&log_lock);
}

void uvsock_log(enum uvsock_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    pthread_mutex_lock(&log_lock);
    if (log_fn && level <= log_max) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_fn(log_ctx, level, msg);
    }
    pthread_mutex_unlock(&log_lock);
}
