/* SPDX-License-Identifier: MIT */
/*
 * SWIG interface of the uvsock C API (core/include/uvsock.h, uvsock_sim.h) for Python.
 *
 * The module is generated straight from the public headers; typemaps turn their out-parameters
 * into return values, so every wrapped call returns its status first:
 *   status, dev = uvsock_open("sim")
 *   status, host_fd, host_port = uvsock_sim_connect(sim, 5000, 0)
 * Structs filled by a call (uvsock_event, uvsock_conn_info, ...) are passed in as proxies.
 * The Pythonic layer is the `uvsock` package around this module (python/uvsock/); this module is
 * its implementation detail, importable as `uvsock.capi`.
 *
 * The GIL: SWIG runs with -threads, so every C call runs with the GIL released. That is what
 * lets uvsock_event_queue_pop, uvsock_sim_accept and uvsock_close block without stopping other
 * Python threads, and it is also required for the log function: the core calls it on its
 * service thread, sometimes with a device lock held, and it takes the GIL; a Python thread that
 * kept the GIL while waiting for that lock would deadlock. Helpers that touch Python objects
 * are %nothread and release the GIL themselves around C calls that may log.
 */
%module(package="uvsock") capi

%{
#include <Python.h>

#include "uvsock.h"
#include "uvsock_sim.h"
%}

%include <stdint.i>
%include <typemaps.i>
%include <carrays.i>

/* ----------------------------------------------------------------- out-parameters -- */

/* struct T **out: the new object is returned after the status. */
%define UVSOCK_OUT_PTR(TYPE)
%typemap(in, numinputs = 0) TYPE **out (TYPE *tmp = NULL)
{
    $1 = &tmp;
}
%typemap(argout) TYPE **out
{
    $result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(*$1, $*1_descriptor, 0));
}
%enddef
UVSOCK_OUT_PTR(struct uvsock_dev)
UVSOCK_OUT_PTR(struct uvsock_event_queue)

%apply int *OUTPUT { int *host_fd };
%apply unsigned int *OUTPUT { uint32_t *host_port_out, uint32_t *guest_port };
%apply unsigned long *OUTPUT { size_t *count };

/* Payload bytes from any object with the buffer protocol (bytes, bytearray, memoryview). */
%typemap(in) (const void *payload, size_t len) (Py_buffer view, int have_view = 0)
{
    if ($input == Py_None) {
        $1 = NULL;
        $2 = 0;
    } else {
        if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
            SWIG_fail;
        have_view = 1;
        $1 = view.buf;
        $2 = (size_t)view.len;
    }
}
%typemap(freearg) (const void *payload, size_t len)
{
    if (have_view$argnum)
        PyBuffer_Release(&view$argnum);
}

/* None for a handle or a struct to fill is a ValueError, never a NULL dereference in C. */
%typemap(check) struct uvsock_dev *, struct uvsock_sim *, struct uvsock_event_queue *,
    const struct uvsock_event_queue *, struct uvsock_event *, struct uvsock_conn_info *,
    struct uvsock_dev_info *, struct uvsock_sim_stats *, const struct uvsock_sim_packet *,
    struct uvsock_capture_stats *, const struct uvsock_callbacks *
{
    if (!$1)
        SWIG_exception_fail(SWIG_ValueError, "in '$symname': argument $argnum ($1_name) is None");
}
%typemap(check) const char *path
{
    if (!$1)
        SWIG_exception_fail(SWIG_ValueError, "in '$symname': path is None");
}

/* Functions named like the struct they fill: the function takes a _get suffix in Python. */
%rename(uvsock_conn_info_get) uvsock_conn_info(struct uvsock_dev *, struct uvsock_addr,
                                               struct uvsock_conn_info *);
%rename(uvsock_dev_info_get) uvsock_dev_info(struct uvsock_dev *, struct uvsock_dev_info *);
%rename(uvsock_capture_stats_get) uvsock_capture_stats(struct uvsock_dev *,
                                                       struct uvsock_capture_stats *);

/* Fixed arrays inside structs are read through bounds-checked accessors. */
%ignore uvsock_dev_info::vq;
%ignore uvsock_sim_stats::op_from_driver;
%extend uvsock_dev_info {
    struct uvsock_vq_info *get_vq(int i)
    {
        return i >= 0 && i < 3 ? &$self->vq[i] : NULL;
    }
}
%extend uvsock_sim_stats {
    uint64_t get_op_from_driver(int i)
    {
        return i >= 0 && i < 8 ? $self->op_from_driver[i] : 0;
    }
}

%array_class(struct uvsock_addr, uvsock_addr_array);

/* ------------------------------------------------------------------------ logging -- */

/* A Python callable instead of a C function pointer: see uvsock_py_set_log below. */
%ignore uvsock_set_log;
%ignore uvsock_log_fn;

%{
/* Runs on whatever thread logs (often a service thread), under the core's log lock. */
static void uvsock_py_log_trampoline(void *ctx, enum uvsock_log_level level, const char *msg)
{
    PyGILState_STATE gs;
    PyObject *r;

#if PY_VERSION_HEX >= 0x030D0000
    if (Py_IsFinalizing())
        return;
#else
    if (_Py_IsFinalizing())
        return;
#endif
    gs = PyGILState_Ensure();
    r = PyObject_CallFunction((PyObject *)ctx, "is", (int)level, msg);
    if (r)
        Py_DECREF(r);
    else
        PyErr_WriteUnraisable((PyObject *)ctx);
    PyGILState_Release(gs);
}

static PyObject *uvsock_py_log_fn;
%}

%nothread uvsock_py_set_log;
%feature("docstring") uvsock_py_set_log
    "uvsock_py_set_log(fn) installs fn(level: int, msg: str) as the process-wide log function; "
    "None removes it. fn runs on the library's threads and must not call into uvsock.";
%inline %{
PyObject *uvsock_py_set_log(PyObject *fn)
{
    PyObject *old = uvsock_py_log_fn;

    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "log function must be callable or None");
        return NULL;
    }
    if (fn == Py_None)
        fn = NULL;
    Py_XINCREF(fn);
    uvsock_py_log_fn = fn;
    /* The core calls the old function under its log lock: once uvsock_set_log returned, no call
     * with the old ctx runs any more, so its reference can go. The GIL is released meanwhile,
     * since a call in progress needs it. */
    Py_BEGIN_ALLOW_THREADS
    uvsock_set_log(fn ? uvsock_py_log_trampoline : NULL, fn);
    Py_END_ALLOW_THREADS
    Py_XDECREF(old);
    Py_RETURN_NONE;
}
%}

/* --------------------------------------------------------------------- the API -- */

/* Function pointers cannot come from Python: Start takes the event queue's callbacks. */
%immutable uvsock_event_queue_callbacks;

/* Capture is in the header before the core implements it; cmake checks which is true. */
#ifdef UVSOCK_PY_NO_CAPTURE
%ignore uvsock_capture_start;
%ignore uvsock_capture_stop;
%ignore uvsock_capture_stats(struct uvsock_dev *, struct uvsock_capture_stats *);
#endif

%include "uvsock.h"
%include "uvsock_sim.h"
