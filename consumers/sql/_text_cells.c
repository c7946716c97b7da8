/* Join a row's plain text cells into COPY text or MySQL literals in one C pass.
 *
 * copy_cells(values: dict, fields: tuple[str, ...]) -> str | None
 *     PostgreSQL COPY text format (pg_batch.py): cells separated by tabs; a missing key, None
 *     or "" is \N; a str is itself; an int (not bool) is str(int).
 * mysql_cells(values: dict, fields: tuple[str, ...], limits: tuple[int, ...]) -> str | None
 *     MySQL literals (mysql_batch.py), separated by commas: missing, None or "" is NULL; a str
 *     or an int's text is quoted, '...'. limits[i] is the column's length (-1: none).
 *
 * Both return None when a value is anything else, a str holds a character its format must
 * escape, or (MySQL) a text is longer than its column: the caller then renders that row cell by
 * cell in Python, which converts, escapes and counts truncations. The pure-Python twins
 * `copy_cells_py` and `mysql_cells_py` have the same contract; tests compare them.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *COPY_NULL;  /* \N */
static PyObject *MYSQL_NULL; /* NULL */
static PyObject *TAB;
static PyObject *EMPTY;
static PyObject *QUOTE;      /* ' */
static PyObject *COMMA;

static int copy_needs_escape(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch <= '\\' && (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r')) return 1;
    }
    return 0;
}

static int mysql_needs_escape(PyObject *text) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch <= '\\' && (ch == '\\' || ch == '\'' || ch == '"' || ch == '\n' || ch == '\r' ||
                           ch == 0 || ch == 0x1a))
            return 1;
    }
    return 0;
}

/* Whether `text` is longer than the column's `limit` (an int; negative: no limit). A limit that
 * is not an int, or too big for a Py_ssize_t, counts as "too long" with the error set. */
static int too_long(PyObject *text, PyObject *limit) {
    Py_ssize_t n = PyLong_AsSsize_t(limit);
    if (n == -1 && PyErr_Occurred()) return 1;
    return n >= 0 && PyUnicode_GET_LENGTH(text) > n;
}

/* The cell's text (new reference), Py_None (new reference) for NULL, or NULL with no error set
 * when the row must go the Python way, or NULL with an error set. */
static PyObject *plain_text(PyObject *values, PyObject *field) {
    PyObject *value = PyDict_GetItemWithError(values, field);
    if (value == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (value == Py_None) Py_RETURN_NONE;
    if (PyUnicode_CheckExact(value)) {
        if (PyUnicode_GET_LENGTH(value) == 0) Py_RETURN_NONE;
        return Py_NewRef(value);
    }
    if (PyLong_CheckExact(value)) return PyObject_Str(value);
    return NULL;
}

static int check_args(Py_ssize_t nargs, PyObject *const *args, Py_ssize_t want) {
    if (nargs != want || !PyDict_Check(args[0]) || !PyTuple_Check(args[1]) ||
        (want == 3 && (!PyTuple_Check(args[2]) ||
                       PyTuple_GET_SIZE(args[2]) != PyTuple_GET_SIZE(args[1])))) {
        PyErr_SetString(PyExc_TypeError,
                        want == 2 ? "copy_cells(values: dict, fields: tuple)"
                                  : "mysql_cells(values: dict, fields: tuple, limits: tuple)");
        return -1;
    }
    return 0;
}

static PyObject *copy_cells(PyObject *Py_UNUSED(module), PyObject *const *args,
                            Py_ssize_t nargs) {
    if (check_args(nargs, args, 2) < 0) return NULL;
    PyObject *fields = args[1];
    Py_ssize_t count = PyTuple_GET_SIZE(fields);
    PyObject *cells = PyList_New(count);
    if (cells == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = plain_text(args[0], PyTuple_GET_ITEM(fields, i));
        if (text == NULL) goto fallback;
        if (text == Py_None) {
            Py_DECREF(text);
            text = Py_NewRef(COPY_NULL);
        } else if (copy_needs_escape(text)) {
            Py_DECREF(text);
            goto fallback;
        }
        PyList_SET_ITEM(cells, i, text);
    }
    PyObject *line = PyUnicode_Join(TAB, cells);
    Py_DECREF(cells);
    return line;
fallback:
    Py_DECREF(cells);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *mysql_cells(PyObject *Py_UNUSED(module), PyObject *const *args,
                             Py_ssize_t nargs) {
    if (check_args(nargs, args, 3) < 0) return NULL;
    PyObject *fields = args[1];
    PyObject *limits = args[2];
    Py_ssize_t count = PyTuple_GET_SIZE(fields);
    /* Pieces: every cell is either NULL or ' text ', with a comma between cells. */
    PyObject *pieces = PyList_New(0);
    if (pieces == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *text = plain_text(args[0], PyTuple_GET_ITEM(fields, i));
        if (text == NULL) goto fallback;
        int rc;
        if (i > 0 && PyList_Append(pieces, COMMA) < 0) {
            Py_DECREF(text);
            goto fallback;
        }
        if (text == Py_None) {
            rc = PyList_Append(pieces, MYSQL_NULL);
        } else if (too_long(text, PyTuple_GET_ITEM(limits, i)) || mysql_needs_escape(text)) {
            Py_DECREF(text);
            goto fallback; /* also when too_long set an error: it is raised there */
        } else {
            rc = PyList_Append(pieces, QUOTE);
            if (rc == 0) rc = PyList_Append(pieces, text);
            if (rc == 0) rc = PyList_Append(pieces, QUOTE);
        }
        Py_DECREF(text);
        if (rc < 0) goto fallback;
    }
    PyObject *line = PyUnicode_Join(EMPTY, pieces);
    Py_DECREF(pieces);
    return line;
fallback:
    Py_DECREF(pieces);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"copy_cells", (PyCFunction)(void (*)(void))copy_cells, METH_FASTCALL,
     "copy_cells(values, fields) -> COPY text of the cells, or None to render in Python"},
    {"mysql_cells", (PyCFunction)(void (*)(void))mysql_cells, METH_FASTCALL,
     "mysql_cells(values, fields, limits) -> MySQL literals of the cells, or None"},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *Py_UNUSED(module)) {
    if (COPY_NULL == NULL) {
        COPY_NULL = PyUnicode_FromString("\\N");
        MYSQL_NULL = PyUnicode_FromString("NULL");
        TAB = PyUnicode_FromString("\t");
        EMPTY = PyUnicode_FromString("");
        QUOTE = PyUnicode_FromString("'");
        COMMA = PyUnicode_FromString(",");
    }
    return (COPY_NULL && MYSQL_NULL && TAB && EMPTY && QUOTE && COMMA) ? 0 : -1;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumers.sql._text_cells",
    "Join a row's plain text cells into COPY text or MySQL literals in one C pass.",
    0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__text_cells(void) { return PyModuleDef_Init(&module_def); }
