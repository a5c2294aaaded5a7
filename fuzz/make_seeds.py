"""Writes the seed corpus in fuzz/seeds/<target>/: small well-formed files and the malformed
cases found by hand-probing (docs/reliability.md). Standard library only; run from anywhere:
python3 fuzz/make_seeds.py"""
import io, json, os, struct, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(shape, descr="<f4", data=None, fortran=False, version=1):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape)
    pre = 10 if version == 1 else 12
    while (pre + len(d) + 1) % 64:
        d += " "
    d += "\n"
    head = b"\x93NUMPY" + bytes([version, 0])
    head += struct.pack("<H" if version == 1 else "<I", len(d))
    if data is None:
        n = 1
        for s in shape:
            n *= s
        data = struct.pack("<%df" % n, *[0.5 + 0.01 * i for i in range(n)])
    return head + d.encode() + data


npys = {
    "good_2d": npy((4, 4)),
    "good_stack": npy((3, 4, 4)),
    "good_channel": npy((2, 1, 4, 4)),
    "good_f8": npy((4, 4), "<f8", struct.pack("<16d", *range(16))),
    "v2": npy((2, 4, 4), version=2),
    "overflow_n": npy((2**54, 16, 16), data=b"\0" * 64),
    "overflow_side": npy((4, 2**31, 2**31), data=b"\0" * 64),
    "overflow_u64": npy((2**63, 2**63), data=b"\0" * 64),
    "truncated": npy((3, 4, 4), data=b"\0" * 20),
    "empty": npy((0, 4, 4), data=b""),
    "rect": npy((4, 5)),
    "one_d": npy((8,)),
    "five_d": npy((1, 1, 1, 2, 2)),
    "fortran": npy((4, 4), fortran=True),
    "complex": npy((2, 2), "<c8", b"\0" * 32),
    "big_endian": npy((2, 2), ">f4", b"\0" * 16),
    "nan": npy((2, 2), data=struct.pack("<4f", 1, float("nan"), 2, 3)),
    "bad_shape": b"\x93NUMPY\x01\x00\x30\x00{'descr': '<f4', 'fortran_order': False, 'shape': (a, b), }\n",
    "header_past_end": b"\x93NUMPY\x01\x00\xff\xff{'descr'",
    "magic_only": b"\x93NUMPY",
}
for k, v in npys.items():
    out("npy", k + ".npy", v)


def npz(members, compress=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()


out("npz", "one.npz", npz({"a.npy": npys["good_stack"]}))
out("npz", "stored.npz", npz({"a.npy": npys["good_2d"]}, zipfile.ZIP_STORED))
out("npz", "two.npz", npz({"a.npy": npys["good_2d"], "b.npy": npys["good_f8"]}))
out("npz", "not_npy.npz", npz({"a.npy": b"hello"}))
out("npz", "overflow_member.npz", npz({"a.npy": npys["overflow_n"]}))
out("npz", "zeros.npz", npz({"a.npy": npy((64, 64), data=b"\0" * (64 * 64 * 4))}))
out("npz", "cut.npz", npz({"a.npy": npys["good_stack"]})[:-30])


def card(k, v):
    return ("%-8s= %20s" % (k, v)).ljust(80)


def fits(cards, data=b""):
    h = "".join(cards) + "END".ljust(80)
    h = h.encode()
    h += b" " * ((-len(h)) % 2880)
    return h + data + b"\0" * ((-len(data)) % 2880)


base = [card("SIMPLE", "T"), card("BITPIX", "-32"), card("NAXIS", "2"),
        card("NAXIS1", "4"), card("NAXIS2", "4")]
out("fits", "good.fits", fits(base, struct.pack(">16f", *range(16))))
out("fits", "cube.fits", fits(base[:2] + [card("NAXIS", "3"), card("NAXIS1", "2"),
                                           card("NAXIS2", "2"), card("NAXIS3", "3")],
                              struct.pack(">12f", *range(12))))
out("fits", "int16.fits", fits([card("SIMPLE", "T"), card("BITPIX", "16"), card("NAXIS", "2"),
                                card("NAXIS1", "2"), card("NAXIS2", "2"), card("BSCALE", "2.0"),
                                card("BZERO", "1.0"), card("BLANK", "-1")],
                               struct.pack(">4h", 1, -1, 3, 4)))
out("fits", "overflow_naxis3.fits", fits(base[:2] + [card("NAXIS", "3"), card("NAXIS1", "16"),
                                                      card("NAXIS2", "16"),
                                                      card("NAXIS3", str(2**54))]))
out("fits", "overflow_skip.fits", fits([card("SIMPLE", "T"), card("BITPIX", "8"),
                                        card("NAXIS", "0"), card("PCOUNT", str(2**63 - 1)),
                                        card("GCOUNT", "4")]))
out("fits", "empty_primary_ext.fits",
    fits([card("SIMPLE", "T"), card("BITPIX", "8"), card("NAXIS", "0")])
    + fits([card("XTENSION", "'IMAGE   '"), card("BITPIX", "-64"), card("NAXIS", "2"),
            card("NAXIS1", "2"), card("NAXIS2", "2")], struct.pack(">4d", 1, 2, 3, 4)))
out("fits", "no_end.fits", "".join(base).encode())
out("fits", "utf8_card.fits", fits(["SIMPLE \u00e9= T".ljust(79)] + base[1:]))
out("fits", "naxis_huge.fits", fits(base[:2] + [card("NAXIS", "999")]))
out("fits", "bitpix_odd.fits", fits([card("SIMPLE", "T"), card("BITPIX", "12"), card("NAXIS", "2"),
                                     card("NAXIS1", "2"), card("NAXIS2", "2")]))

out("params", "cmd6.txt", "# Om sigma8 SN1 AGN1 SN2 AGN2\n0.3 0.8 1 1 1 1\n0.1 0.6 2 2 1 1\n")
out("params", "five_cols.txt", "0.3 0.8 1 1 1\n")
out("params", "named5.txt", "# a b c d e\n0.3 0.8 1 1 1\n")
out("params", "ragged.txt", "1 2 3 4 5 6\n1 2 3\n")
out("params", "nan.txt", "1 2 3 4 5 nan\n")
out("params", "comma.txt", "1,2,3,4,5,6\n")
out("params", "empty.txt", "# only a comment\n\n")
out("params", "huge_number.txt", "1e400 2 3 4 5 6\n")


def safetensors(tensors, meta):
    header = {"__metadata__": meta}
    blob = b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + blob


cfg = '{"preset":"cpu-small"}'
meta = {"format": "astrodiff-checkpoint-1", "step": "3", "seed": "0", "adam_step": "3",
        "wall_s": "1.5", "config": cfg}
one = {"model/w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))}
out("checkpoint", "small.safetensors", safetensors(one, meta))
out("checkpoint", "nan.safetensors",
    safetensors({"ema/w": ("F32", [2], struct.pack("<2f", 1, float("nan")))}, meta))
out("checkpoint", "f16.safetensors", safetensors({"model/w": ("F16", [2], b"\0" * 4)}, meta))
out("checkpoint", "bad_offsets.safetensors",
    safetensors({"model/w": ("F32", [4, 4], struct.pack("<4f", 1, 2, 3, 4))}, meta))
out("checkpoint", "overflow_shape.safetensors",
    safetensors({"model/w": ("F32", [2**62, 2**62], b"")}, meta))
out("checkpoint", "no_meta.safetensors", safetensors(one, {}))
out("checkpoint", "header_len_huge.safetensors", struct.pack("<Q", 2**63) + b"{}")
out("checkpoint", "short.safetensors", b"\x08\x00\x00")

out("config", "empty.toml", "")
out("config", "lr.toml", "[train]\nlr = 2e-4\nbatch_size = 8\n")
out("config", "unet.toml", "[unet]\nbase_channels = 16\nchannel_mults = [1, 2, 2]\n"
    "attention = [\"none\", \"linear\", \"full\"]\n")
out("config", "schedule.toml", "[diffusion.schedule]\nkind = \"cosine\"\ntimesteps = 1000\n")
out("config", "unknown_key.toml", "[train]\nlearning_rate = 1\n")
out("config", "zero_log.toml", "[train]\nlog_every = 0\n")
out("config", "deep_mults.toml", "[unet]\nchannel_mults = [%s]\nattention = [%s]\n"
    % (", ".join(["1"] * 70), ", ".join(['"none"'] * 70)))
out("config", "huge_t.toml", "[diffusion.schedule]\ntimesteps = 4000000000\n")
out("config", "neg.toml", "[unet]\nbase_channels = -8\n")
out("config", "cosine_steps.toml", "[train]\ndecay = \"cosine\"\nwarmup_steps = 10\ndecay_steps = 5\n")
