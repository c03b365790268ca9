"""Write Python dicts as libconfig text (the postern.conf format)."""


def _str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _val(v, ind):
    pad = "  " * ind
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, dict):
        inner = "".join("%s  %s = %s;\n" % (pad, k, _val(x, ind + 1))
                        for k, x in v.items())
        return "{\n" + inner + pad + "}"
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v):
            return "(\n" + ",\n".join(pad + "  " + _val(x, ind + 1)
                                      for x in v) + "\n" + pad + ")"
        if not v:
            return "[ ]"
        return "[ " + ", ".join(_val(x, ind) for x in v) + " ]"
    raise TypeError("cannot write %r" % (v,))


def dump(conf):
    return "".join("%s = %s;\n" % (k, _val(v, 0)) for k, v in conf.items())


def merge(dst, src):
    """Deep-merge src into dst (dicts merge, everything else replaces)."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst
