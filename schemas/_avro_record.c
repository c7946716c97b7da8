/* Read one flat Avro record body in a single C pass (the compiled half of fast_decode.py).
 *
 * read_record(data: bytes, pos: int, layout: str, json_loads) -> tuple
 *
 * `layout` has one letter per field, in the schema's order:
 *   s  string                     S  union ["null", "string"]
 *   l  long (zig-zag varint)      m  map of the attribute union
 *                                    [null, boolean, long, double, string, JsonText]
 * The record must end exactly at the end of `data`. Anything unexpected raises
 * RecordError (a ValueError); the codec then decodes the same bytes with fastavro, so error
 * messages and edge cases stay those of the generic reader. JsonText values are handed to
 * `json_loads`. Same contract as `read_record_py` in fast_decode.py, which tests compare it to.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Attribute names repeat from event to event (a campaign has a few dozen fields): a small
 * direct-mapped cache of decoded names by their UTF-8 bytes hands out the same str objects, so
 * a name is decoded and hashed once, not once per event (dict inserts and later lookups by the
 * same object also skip comparing characters). Names longer than KEY_MAX bytes are not cached. */
#define KEY_SLOTS 4096
#define KEY_MAX 64

typedef struct {
    PyObject *name; /* NULL: empty slot */
    Py_ssize_t size;
    unsigned char raw[KEY_MAX];
} KeySlot;

typedef struct {
    PyObject *record_error;
    KeySlot keys[KEY_SLOTS];
} ModuleState;

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    PyObject *error; /* this module's RecordError (borrowed from the module state) */
    ModuleState *state;
} Cursor;

static int fail(Cursor *c, const char *reason) {
    PyErr_SetString(c->error, reason);
    return -1;
}

static int read_long(Cursor *c, long long *out) {
    unsigned long long n = 0;
    int shift = 0;
    unsigned char b;
    do {
        if (c->p >= c->end) return fail(c, "truncated varint");
        if (shift > 63) return fail(c, "varint too long");
        b = *c->p++;
        if (shift == 63 && (b & 0x7E)) return fail(c, "varint beyond 64 bits");
        n |= (unsigned long long)(b & 0x7F) << shift;
        shift += 7;
    } while (b & 0x80);
    *out = (long long)(n >> 1) ^ -(long long)(n & 1);
    return 0;
}

static PyObject *read_string(Cursor *c) {
    long long n;
    if (read_long(c, &n) < 0) return NULL;
    if (n < 0) return fail(c, "negative length"), NULL;
    if (n > c->end - c->p) return fail(c, "string runs past the end"), NULL;
    PyObject *s = PyUnicode_DecodeUTF8((const char *)c->p, (Py_ssize_t)n, "strict");
    c->p += n;
    return s;
}

/* A map key: like read_string, through the module's name cache. */
static PyObject *read_key(Cursor *c) {
    long long n;
    if (read_long(c, &n) < 0) return NULL;
    if (n < 0) return fail(c, "negative length"), NULL;
    if (n > c->end - c->p) return fail(c, "string runs past the end"), NULL;
    const unsigned char *raw = c->p;
    if (n > KEY_MAX) {
        c->p += n;
        return PyUnicode_DecodeUTF8((const char *)raw, (Py_ssize_t)n, "strict");
    }
    unsigned int hash = 2166136261u; /* FNV-1a */
    for (long long i = 0; i < n; i++) hash = (hash ^ raw[i]) * 16777619u;
    hash ^= hash >> 16; /* the slot index takes low bits: fold the better-mixed high ones in */
    KeySlot *slot = &c->state->keys[hash & (KEY_SLOTS - 1)];
    if (slot->name != NULL && slot->size == n && memcmp(slot->raw, raw, (size_t)n) == 0) {
        c->p += n;
        return Py_NewRef(slot->name);
    }
    PyObject *name = PyUnicode_DecodeUTF8((const char *)raw, (Py_ssize_t)n, "strict");
    if (name == NULL) return NULL;
    c->p += n;
    Py_XSETREF(slot->name, Py_NewRef(name));
    slot->size = (Py_ssize_t)n;
    memcpy(slot->raw, raw, (size_t)n);
    return name;
}

static PyObject *read_optional_string(Cursor *c) {
    if (c->p >= c->end) return fail(c, "truncated union"), NULL;
    unsigned char branch = *c->p++;
    if (branch == 0) Py_RETURN_NONE;
    if (branch == 2) return read_string(c);
    return fail(c, "bad union branch"), NULL;
}

static PyObject *read_value(Cursor *c, PyObject *json_loads) {
    if (c->p >= c->end) return fail(c, "truncated union"), NULL;
    unsigned char branch = *c->p++;
    long long n;
    switch (branch) {
    case 8:
        return read_string(c);
    case 0:
        Py_RETURN_NONE;
    case 4:
        if (read_long(c, &n) < 0) return NULL;
        return PyLong_FromLongLong(n);
    case 6: {
        if (c->end - c->p < 8) return fail(c, "truncated double"), NULL;
        double d = PyFloat_Unpack8((const char *)c->p, 1);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        c->p += 8;
        return PyFloat_FromDouble(d);
    }
    case 2: {
        if (c->p >= c->end) return fail(c, "truncated boolean"), NULL;
        unsigned char flag = *c->p++;
        if (flag > 1) return fail(c, "bad boolean"), NULL;
        return PyBool_FromLong(flag);
    }
    case 10: {
        PyObject *text = read_string(c);
        if (text == NULL) return NULL;
        PyObject *value = PyObject_CallOneArg(json_loads, text);
        Py_DECREF(text);
        return value;
    }
    default:
        return fail(c, "bad union branch"), NULL;
    }
}

static PyObject *read_map(Cursor *c, PyObject *json_loads) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    for (;;) {
        long long count, block_size;
        if (read_long(c, &count) < 0) goto error;
        if (count == 0) return out;
        if (count < 0) {
            if (count == LLONG_MIN) {
                fail(c, "block count out of range");
                goto error;
            }
            count = -count;
            if (read_long(c, &block_size) < 0) goto error;
        }
        for (long long i = 0; i < count; i++) {
            PyObject *key = read_key(c);
            if (key == NULL) goto error;
            PyObject *value = read_value(c, json_loads);
            if (value == NULL) {
                Py_DECREF(key);
                goto error;
            }
            int rc = PyDict_SetItem(out, key, value);
            Py_DECREF(key);
            Py_DECREF(value);
            if (rc < 0) goto error;
        }
    }
error:
    Py_DECREF(out);
    return NULL;
}

static PyObject *read_field(Cursor *c, char kind, PyObject *json_loads) {
    long long n;
    switch (kind) {
    case 's':
        return read_string(c);
    case 'S':
        return read_optional_string(c);
    case 'l':
        if (read_long(c, &n) < 0) return NULL;
        return PyLong_FromLongLong(n);
    case 'm':
        return read_map(c, json_loads);
    default:
        PyErr_Format(PyExc_ValueError, "unknown layout letter %c", (int)(unsigned char)kind);
        return NULL;
    }
}

static PyObject *read_record(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "read_record(data, pos, layout, json_loads)");
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    ModuleState *state = PyModule_GetState(module);
    PyObject *error = state->record_error;
    if (pos < 0 || pos > size) {
        PyErr_SetString(error, "start outside the data");
        return NULL;
    }
    Py_ssize_t nfields;
    const char *layout = PyUnicode_AsUTF8AndSize(args[2], &nfields);
    if (layout == NULL) return NULL;
    PyObject *json_loads = args[3];

    const unsigned char *base = (const unsigned char *)PyBytes_AS_STRING(data);
    Cursor c = {base + pos, base + size, error, state};
    PyObject *fields = PyTuple_New(nfields);
    if (fields == NULL) return NULL;
    for (Py_ssize_t i = 0; i < nfields; i++) {
        PyObject *value = read_field(&c, layout[i], json_loads);
        if (value == NULL) {
            Py_DECREF(fields);
            return NULL;
        }
        PyTuple_SET_ITEM(fields, i, value);
    }
    if (c.p != c.end) {
        Py_DECREF(fields);
        return fail(&c, "body length mismatch"), NULL;
    }
    return fields;
}

static PyMethodDef methods[] = {
    {"read_record", (PyCFunction)(void (*)(void))read_record, METH_FASTCALL,
     "read_record(data, pos, layout, json_loads) -> tuple of the record's fields"},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module) {
    ModuleState *state = PyModule_GetState(module);
    state->record_error = PyErr_NewExceptionWithDoc(
        "schemas._avro_record.RecordError",
        "The bytes are not a record of the given layout.", PyExc_ValueError, NULL);
    if (state->record_error == NULL) return -1;
    return PyModule_AddObjectRef(module, "RecordError", state->record_error);
}

static int traverse(PyObject *module, visitproc visit, void *arg) {
    ModuleState *state = PyModule_GetState(module);
    if (state == NULL) return 0;
    Py_VISIT(state->record_error);
    return 0;
}

static int clear(PyObject *module) {
    ModuleState *state = PyModule_GetState(module);
    if (state == NULL) return 0;
    Py_CLEAR(state->record_error);
    for (int i = 0; i < KEY_SLOTS; i++) Py_CLEAR(state->keys[i].name);
    return 0;
}

static void free_module(void *module) { clear((PyObject *)module); }

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "schemas._avro_record",
    "Read one flat Avro record body in a single C pass (see fast_decode.py).",
    sizeof(ModuleState), methods, slots, traverse, clear, free_module,
};

PyMODINIT_FUNC PyInit__avro_record(void) { return PyModuleDef_Init(&module_def); }
