/* Input novelty in C: the hashed word unigrams and bigrams of an ASCII prompt, checked against or
 * set in a reference bitset, without building a list of hashes.
 *
 * The hashes are exactly those of `adaptloop_drift.novelty.prompt_features`: tokens are the maximal
 * runs of ASCII letters (lower-cased) and of digits (each run one token "#"); a unigram's hash is
 * the CRC-32 (zlib's polynomial) of the token, a bigram's the CRC-32 of "first second". Only the
 * first `max_tokens` tokens count. A prompt that is not pure ASCII is left to the Python code
 * (every function returns None for it), which holds the definition for every prompt.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static uint32_t crc_table[256];

static void
crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

/* zlib's crc32(buf, start): continue a CRC-32 over more bytes. */
static inline uint32_t
crc_continue(uint32_t crc, const unsigned char *buf, Py_ssize_t len)
{
    crc = ~crc;
    for (Py_ssize_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static const unsigned char DIGIT_TOKEN[] = "#";
static const unsigned char SPACE[] = " ";

/* Calls `visit(hash, arg)` for every unigram and bigram hash of an ASCII text; returns how many. */
typedef void (*visit_fn)(uint32_t hash, void *arg);

static Py_ssize_t
each_feature(const unsigned char *text, Py_ssize_t len, Py_ssize_t max_tokens, visit_fn visit, void *arg)
{
    unsigned char word[64];
    Py_ssize_t tokens = 0, features = 0, i = 0;
    uint32_t prev = 0;
    while (i < len && tokens < max_tokens) {
        unsigned char c = text[i];
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int digit = c >= '0' && c <= '9';
        if (!letter && !digit) {
            i++;
            continue;
        }
        const unsigned char *tok;
        Py_ssize_t tok_len;
        uint32_t uni, bi = 0;
        if (digit) {
            while (i < len && text[i] >= '0' && text[i] <= '9')
                i++;
            tok = DIGIT_TOKEN;
            tok_len = 1;
            uni = crc_continue(0, tok, tok_len);
            if (tokens)
                bi = crc_continue(crc_continue(prev, SPACE, 1), tok, tok_len);
        }
        else {
            /* A word is lower-cased in chunks of `word` (a CRC continues over consecutive chunks). */
            uint32_t u = 0, b = tokens ? crc_continue(prev, SPACE, 1) : 0;
            for (;;) {
                Py_ssize_t n = 0;
                while (i < len && n < (Py_ssize_t)sizeof(word)) {
                    unsigned char d = text[i];
                    if (d >= 'A' && d <= 'Z')
                        d += 32;
                    else if (!(d >= 'a' && d <= 'z'))
                        break;
                    word[n++] = d;
                    i++;
                }
                u = crc_continue(u, word, n);
                if (tokens)
                    b = crc_continue(b, word, n);
                if (n < (Py_ssize_t)sizeof(word) || i >= len)
                    break;
            }
            uni = u;
            bi = b;
        }
        visit(uni, arg);
        features++;
        if (tokens) {
            visit(bi, arg);
            features++;
        }
        prev = uni;
        tokens++;
    }
    return features;
}

typedef struct {
    const unsigned char *bits;
    uint64_t mask;
    Py_ssize_t unseen;
} count_arg;

static void
count_unseen(uint32_t hash, void *arg)
{
    count_arg *a = (count_arg *)arg;
    uint64_t i = hash & a->mask;
    if (!(a->bits[i >> 3] & (1u << (i & 7))))
        a->unseen++;
}

typedef struct {
    unsigned char *bits;
    uint64_t mask;
} mark_arg;

static void
mark_seen(uint32_t hash, void *arg)
{
    mark_arg *a = (mark_arg *)arg;
    uint64_t i = hash & a->mask;
    a->bits[i >> 3] |= (unsigned char)(1u << (i & 7));
}

static void
append_hash(uint32_t hash, void *arg)
{
    PyObject *list = (PyObject *)arg;
    PyObject *h = PyLong_FromUnsignedLong(hash);
    if (h != NULL) {
        PyList_Append(list, h);  /* an allocation failure is seen by the caller through PyErr_Occurred */
        Py_DECREF(h);
    }
}

/* The ASCII text of `prompt`, or NULL when it is not an ASCII str. */
static const unsigned char *
ascii_text(PyObject *prompt, Py_ssize_t *len)
{
    if (!PyUnicode_Check(prompt) || !PyUnicode_IS_ASCII(prompt))
        return NULL;
    *len = PyUnicode_GET_LENGTH(prompt);
    return (const unsigned char *)PyUnicode_DATA(prompt);
}

/* The bitset must hold mask + 1 bits (mask: a power of two minus one); max_tokens must not be negative. */
static int
check_args(Py_buffer *buf, unsigned long long mask, Py_ssize_t max_tokens)
{
    if (mask == 0 || mask + 1 == 0 || (mask & (mask + 1)) || (unsigned long long)buf->len * 8 < mask + 1) {
        PyErr_Format(PyExc_ValueError, "a bitset of %zd bytes cannot hold mask %llu (a power of two minus one)",
                     buf->len, mask);
        return -1;
    }
    if (max_tokens < 0) {
        PyErr_Format(PyExc_ValueError, "max_tokens must not be negative, got %zd", max_tokens);
        return -1;
    }
    return 0;
}

/* The arguments of novelty and mark: an ASCII prompt, a bitset, its mask, the token limit. */
typedef struct {
    Py_buffer bits;
    unsigned long long mask;
    Py_ssize_t max_tokens;
    const unsigned char *text;
    Py_ssize_t len;
} bitset_call;

/* -1: an error is set; 0: the prompt is not ASCII; 1: ready, and the caller releases call->bits. */
static int
parse_bitset_call(PyObject *args, const char *format, bitset_call *call)
{
    PyObject *prompt;
    if (!PyArg_ParseTuple(args, format, &prompt, &call->bits, &call->mask, &call->max_tokens))
        return -1;
    call->text = ascii_text(prompt, &call->len);
    int ready = call->text == NULL ? 0 : check_args(&call->bits, call->mask, call->max_tokens) < 0 ? -1 : 1;
    if (ready < 1)
        PyBuffer_Release(&call->bits);
    return ready;
}

PyDoc_STRVAR(novelty_doc,
"novelty(prompt, bitset, mask, max_tokens) -> float | None\n\n"
"Share of the prompt's n-gram hashes whose bit (hash & mask) is unset in bitset; 0.0 for a prompt\n"
"without tokens; None when the prompt is not ASCII.");

static PyObject *
novelty(PyObject *self, PyObject *args)
{
    bitset_call call;
    int ready = parse_bitset_call(args, "Oy*Kn:novelty", &call);
    if (ready < 1) {
        if (ready < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    count_arg a = {call.bits.buf, call.mask, 0};
    Py_ssize_t total = each_feature(call.text, call.len, call.max_tokens, count_unseen, &a);
    PyBuffer_Release(&call.bits);
    return PyFloat_FromDouble(total ? (double)a.unseen / (double)total : 0.0);
}

PyDoc_STRVAR(mark_doc,
"mark(prompt, bitset, mask, max_tokens) -> bool\n\n"
"Set the bit of each of the prompt's n-gram hashes in bitset (a writable buffer); False, and\n"
"nothing set, when the prompt is not ASCII.");

static PyObject *
mark(PyObject *self, PyObject *args)
{
    bitset_call call;
    int ready = parse_bitset_call(args, "Ow*Kn:mark", &call);
    if (ready < 1) {
        if (ready < 0)
            return NULL;
        Py_RETURN_FALSE;
    }
    mark_arg a = {call.bits.buf, call.mask};
    each_feature(call.text, call.len, call.max_tokens, mark_seen, &a);
    PyBuffer_Release(&call.bits);
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(features_doc,
"features(prompt, max_tokens) -> list[int] | None\n\n"
"The prompt's n-gram hashes in the order novelty and mark visit them; None when it is not ASCII.");

static PyObject *
features(PyObject *self, PyObject *args)
{
    PyObject *prompt;
    Py_ssize_t max_tokens;
    if (!PyArg_ParseTuple(args, "On:features", &prompt, &max_tokens))
        return NULL;
    if (max_tokens < 0)
        return PyErr_Format(PyExc_ValueError, "max_tokens must not be negative, got %zd", max_tokens);
    Py_ssize_t len;
    const unsigned char *text = ascii_text(prompt, &len);
    if (text == NULL)
        Py_RETURN_NONE;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    each_feature(text, len, max_tokens, append_hash, list);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyMethodDef methods[] = {
    {"novelty", novelty, METH_VARARGS, novelty_doc},
    {"mark", mark, METH_VARARGS, mark_doc},
    {"features", features, METH_VARARGS, features_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_novelty",
    "Input novelty of ASCII prompts in C (see adaptloop_drift.novelty).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__novelty(void)
{
    crc_init();
    return PyModule_Create(&module);
}
