//! Reading and writing stacks of square 2D maps: NumPy `.npy` / `.npz` and FITS.
//!
//! [`MapStack::open`] memory-maps `.npy` and FITS files, so a 3.9 GB CAMELS
//! `Maps_Mcdm_IllustrisTNG_LH_z=0.00.npy` (15 000 × 256 × 256 float32) costs
//! nothing to open and only the maps you ask for are paged in. `.npz` members
//! are decompressed into memory (they are usually small).
//!
//! Layout convention: map `m`, pixel `(i, j)` is row `i`, column `j`, exactly
//! as `np.load(f)[m, i, j]` (or astropy's `fits.getdata(f)[m, i, j]`, where `j`
//! runs along FITS `NAXIS1`, `i` along `NAXIS2` and `m` along `NAXIS3`).
//!
//! Writers ([`write_npy_f32`], [`write_npy_f64`], [`write_fits_f32`]) write to a
//! temporary file in the destination folder and rename it into place, so a crash
//! never leaves a half-written file where a good one was.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{Array2, Array3, ArrayView, ArrayView3, Dimension};

use crate::error::{FieldsError, Result};

/// FITS files are made of 2880-byte blocks (36 cards of 80 characters).
const FITS_BLOCK: usize = 2880;

/// How one stored element is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F32Le,
    F64Le,
    F32Be,
    F64Be,
    U8,
    I16Be,
    I32Be,
    I64Be,
}

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::U8 => 1,
            Elem::I16Be => 2,
            Elem::F32Le | Elem::F32Be | Elem::I32Be => 4,
            Elem::F64Le | Elem::F64Be | Elem::I64Be => 8,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Elem::F32Le => "float32 (little-endian)",
            Elem::F64Le => "float64 (little-endian)",
            Elem::F32Be => "float32 (FITS BITPIX -32)",
            Elem::F64Be => "float64 (FITS BITPIX -64)",
            Elem::U8 => "uint8 (FITS BITPIX 8)",
            Elem::I16Be => "int16 (FITS BITPIX 16)",
            Elem::I32Be => "int32 (FITS BITPIX 32)",
            Elem::I64Be => "int64 (FITS BITPIX 64)",
        }
    }
}

enum Backing {
    Mmap(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A read-only stack of `len()` square maps of `side()`² pixels.
///
/// Opening checks the header and the file size only; pixel values are decoded
/// (and promoted to `f64` or cast to `f32`) when a map is asked for.
pub struct MapStack {
    path: PathBuf,
    n: usize,
    side: usize,
    elem: Elem,
    /// Physical value = `zero + scale * stored` (FITS BZERO/BSCALE; 0 and 1 otherwise).
    scale: f64,
    zero: f64,
    /// FITS BLANK: integer value that stands for "no data" (decoded as NaN).
    blank: Option<i64>,
    offset: usize,
    data: Backing,
}

impl std::fmt::Debug for MapStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapStack")
            .field("path", &self.path)
            .field("shape", &self.shape())
            .field("dtype", &self.elem.name())
            .finish()
    }
}

impl MapStack {
    /// Open a `.npy`, `.npz` or FITS (`.fits`, `.fit`, `.fts`, optionally
    /// `.fits.fz` is *not* supported) file holding one map `(N, N)` or a stack
    /// `(n, N, N)`; `(n, 1, N, N)` (a singleton channel axis) is accepted too.
    ///
    /// For `.npz`, the archive must hold exactly one array, or name the member
    /// as `file.npz:member` (see also [`MapStack::open_npz`]).
    /// The kind is decided by the file's magic bytes, not its extension.
    pub fn open(path: impl AsRef<Path>) -> Result<MapStack> {
        let path = path.as_ref();
        if !path.exists() {
            // `file.npz:member` addressing.
            let s = path.to_string_lossy();
            if let Some(pos) = s.rfind(".npz:") {
                let (file, member) = s.split_at(pos + 4);
                return MapStack::open_npz(file, Some(&member[1..]));
            }
        }
        let file = File::open(path).map_err(|e| FieldsError::io(path, "cannot open", e))?;
        let mut magic = [0u8; 6];
        let got = (&file)
            .take(6)
            .read(&mut magic)
            .map_err(|e| FieldsError::io(path, "cannot read", e))?;
        let magic = &magic[..got];
        if magic == b"\x93NUMPY" {
            let mmap = map_file(&file, path)?;
            let header = parse_npy_header(&mmap, path)?;
            MapStack::from_npy(path, header, Backing::Mmap(mmap))
        } else if magic.starts_with(b"PK") {
            MapStack::open_npz(path, None)
        } else if magic == b"SIMPLE" {
            let mmap = map_file(&file, path)?;
            MapStack::from_fits(path, Backing::Mmap(mmap))
        } else {
            Err(FieldsError::format(
                path,
                "not a .npy, .npz or FITS file (unrecognised first bytes)",
            ))
        }
    }

    /// Open one array of a `.npz` archive (as written by `np.savez` or
    /// `np.savez_compressed`). With `member == None` the archive must hold
    /// exactly one array. The member is decompressed into memory.
    pub fn open_npz(path: impl AsRef<Path>, member: Option<&str>) -> Result<MapStack> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| FieldsError::io(path, "cannot open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| FieldsError::io(path, "cannot read", e))?
            .len();
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            FieldsError::format(path, format!("not a valid .npz (zip) archive: {e}"))
        })?;
        let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
        let chosen = match member {
            Some(m) => {
                let with_ext = format!("{m}.npy");
                names
                    .iter()
                    .find(|n| *n == m || **n == with_ext)
                    .cloned()
                    .ok_or_else(|| {
                        FieldsError::format(
                            path,
                            format!(
                                "no member '{m}' in archive (members: {})",
                                member_list(&names)
                            ),
                        )
                    })?
            }
            None => {
                if names.len() != 1 {
                    return Err(FieldsError::format(
                        path,
                        format!(
                            "archive holds {} arrays ({}); name one as {}:<member>",
                            names.len(),
                            member_list(&names),
                            path.display()
                        ),
                    ));
                }
                names[0].clone()
            }
        };
        let display = PathBuf::from(format!(
            "{}:{}",
            path.display(),
            chosen.trim_end_matches(".npy")
        ));
        let mut entry = zip
            .by_name(&chosen)
            .map_err(|e| FieldsError::format(&display, format!("cannot read member: {e}")))?;
        // The sizes in the archive are its word, not facts. The stored bytes are at most the
        // file; deflate expands at most 1032:1, so a member claiming more is corrupt. And the
        // buffer grows with the bytes that actually come out, from a bounded first reservation
        // (a fuzzed 223-byte archive claiming 1.9 GB had it reserved up front).
        let declared = entry.size();
        let stored = entry.compressed_size().min(file_len);
        if declared > stored.saturating_mul(1032).saturating_add(1024) {
            return Err(FieldsError::format(
                &display,
                format!("member claims {declared} bytes from {stored} stored: corrupt archive"),
            ));
        }
        let mut bytes = Vec::with_capacity(declared.min(1 << 26) as usize);
        (&mut entry)
            .take(declared)
            .read_to_end(&mut bytes)
            .map_err(|e| FieldsError::io(&display, "cannot decompress member", e))?;
        if !bytes.starts_with(b"\x93NUMPY") {
            return Err(FieldsError::format(&display, "member is not a .npy array"));
        }
        let header = parse_npy_header(&bytes, &display)?;
        MapStack::from_npy(&display, header, Backing::Owned(bytes))
    }

    /// Wrap an in-memory stack (e.g. a freshly computed one) so it can be
    /// handled like a file; `label` stands in for the path in messages.
    pub fn from_array(label: impl Into<PathBuf>, maps: ArrayView3<f32>) -> Result<MapStack> {
        let label = label.into();
        let (n, r, c) = maps.dim();
        check_shape_3(&label, n, r, c)?;
        let mut bytes = Vec::with_capacity(n * r * c * 4);
        for v in maps.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Ok(MapStack {
            path: label,
            n,
            side: r,
            elem: Elem::F32Le,
            scale: 1.0,
            zero: 0.0,
            blank: None,
            offset: 0,
            data: Backing::Owned(bytes),
        })
    }

    fn from_npy(path: &Path, h: NpyHeader, data: Backing) -> Result<MapStack> {
        let elem = match h.descr.as_str() {
            "<f4" => Elem::F32Le,
            "<f8" => Elem::F64Le,
            "=f4" if cfg!(target_endian = "little") => Elem::F32Le,
            "=f8" if cfg!(target_endian = "little") => Elem::F64Le,
            d => return Err(dtype_error(path, d)),
        };
        if h.fortran_order {
            return Err(FieldsError::FortranOrder { path: path.into() });
        }
        let (n, side) = stack_dims(path, &h.shape)?;
        let need = data_bytes(path, &h.shape, elem.size())?;
        let have = (data.bytes().len() - h.data_offset) as u64;
        if have < need {
            return Err(FieldsError::Truncated {
                path: path.into(),
                expected: need,
                actual: have,
            });
        }
        Ok(MapStack {
            path: path.into(),
            n,
            side,
            elem,
            scale: 1.0,
            zero: 0.0,
            blank: None,
            offset: h.data_offset,
            data,
        })
    }

    fn from_fits(path: &Path, data: Backing) -> Result<MapStack> {
        let bytes = data.bytes();
        let mut start = 0usize;
        let mut hdu = 0usize;
        loop {
            if start >= bytes.len() {
                return Err(FieldsError::format(
                    path,
                    "no image data: the primary HDU is empty and no IMAGE extension follows",
                ));
            }
            let h = parse_fits_header(bytes, start, path, hdu)?;
            let naxes: Vec<usize> = h.naxis.clone();
            let npix: usize = if naxes.is_empty() {
                0
            } else {
                checked_product(path, &naxes, 1)?
            };
            let esize = (h.bitpix.unsigned_abs() / 8) as usize;
            let data_len = h
                .pcount
                .checked_add(npix)
                .and_then(|p| p.checked_mul(h.gcount))
                .and_then(|p| p.checked_mul(esize))
                .ok_or_else(|| too_large(path, &naxes))?;
            let is_image = hdu == 0 || h.xtension.as_deref() == Some("IMAGE");
            if is_image && npix > 0 {
                let elem = match h.bitpix {
                    -32 => Elem::F32Be,
                    -64 => Elem::F64Be,
                    8 => Elem::U8,
                    16 => Elem::I16Be,
                    32 => Elem::I32Be,
                    64 => Elem::I64Be,
                    b => {
                        return Err(FieldsError::Dtype {
                            path: path.into(),
                            dtype: format!("BITPIX = {b}"),
                            hint: "FITS allows only 8, 16, 32, 64, -32, -64".into(),
                        })
                    }
                };
                // numpy order is the reverse of FITS axis order.
                let shape: Vec<usize> = naxes.iter().rev().copied().collect();
                let (n, side) = stack_dims(path, &shape)?;
                let need = data_bytes(path, &shape, esize)?;
                let have = bytes.len().saturating_sub(h.data_start) as u64;
                if have < need {
                    return Err(FieldsError::Truncated {
                        path: path.into(),
                        expected: need,
                        actual: have,
                    });
                }
                return Ok(MapStack {
                    path: path.into(),
                    n,
                    side,
                    elem,
                    scale: h.bscale,
                    zero: h.bzero,
                    blank: if h.bitpix > 0 { h.blank } else { None },
                    offset: h.data_start,
                    data,
                });
            }
            if h.zimage {
                return Err(FieldsError::format(
                    path,
                    format!("HDU {hdu} is a tile-compressed image; decompress it first (funpack, or astropy)"),
                ));
            }
            start = data_len
                .div_ceil(FITS_BLOCK)
                .checked_mul(FITS_BLOCK)
                .and_then(|p| p.checked_add(h.data_start))
                .ok_or_else(|| too_large(path, &naxes))?;
            hdu += 1;
        }
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True if the stack holds no maps (never true for an opened file: opening
    /// an empty stack is an error).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Side N of the square maps, in pixels.
    pub fn side(&self) -> usize {
        self.side
    }

    /// `(n, N, N)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.n, self.side, self.side)
    }

    /// The file the maps come from (`file.npz:member` for archives).
    pub fn source_path(&self) -> &Path {
        &self.path
    }

    /// Human-readable element type, e.g. `float32 (little-endian)`.
    pub fn dtype_name(&self) -> &'static str {
        self.elem.name()
    }

    fn map_bytes(&self, i: usize) -> &[u8] {
        assert!(
            i < self.n,
            "{}: map index {i} out of range (stack holds {} maps)",
            self.path.display(),
            self.n
        );
        let per = self.side * self.side * self.elem.size();
        let start = self.offset + i * per;
        &self.data.bytes()[start..start + per]
    }

    fn decode_into<T: From<f32> + Copy>(
        &self,
        bytes: &[u8],
        out: &mut [T],
        cast: impl Fn(f64) -> T,
    ) {
        let physical = |raw: f64| self.zero + self.scale * raw;
        let ints = |raw: i64| {
            if Some(raw) == self.blank {
                f64::NAN
            } else {
                physical(raw as f64)
            }
        };
        let identity = self.scale == 1.0 && self.zero == 0.0;
        match self.elem {
            Elem::F32Le if identity => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = T::from(f32::from_le_bytes(c.try_into().unwrap()));
                }
            }
            Elem::F32Be if identity => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = T::from(f32::from_be_bytes(c.try_into().unwrap()));
                }
            }
            Elem::F32Le => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = cast(physical(f32::from_le_bytes(c.try_into().unwrap()) as f64));
                }
            }
            Elem::F32Be => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = cast(physical(f32::from_be_bytes(c.try_into().unwrap()) as f64));
                }
            }
            Elem::F64Le => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = cast(physical(f64::from_le_bytes(c.try_into().unwrap())));
                }
            }
            Elem::F64Be => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = cast(physical(f64::from_be_bytes(c.try_into().unwrap())));
                }
            }
            Elem::U8 => {
                for (o, &b) in out.iter_mut().zip(bytes) {
                    *o = cast(ints(b as i64));
                }
            }
            Elem::I16Be => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = cast(ints(i16::from_be_bytes(c.try_into().unwrap()) as i64));
                }
            }
            Elem::I32Be => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = cast(ints(i32::from_be_bytes(c.try_into().unwrap()) as i64));
                }
            }
            Elem::I64Be => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    *o = cast(ints(i64::from_be_bytes(c.try_into().unwrap())));
                }
            }
        }
    }

    /// Map `i` in physical units, promoted to f64. Panics if `i >= len()`.
    pub fn map(&self, i: usize) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((self.side, self.side));
        let slice = out.as_slice_mut().expect("fresh array is contiguous");
        self.decode_into(self.map_bytes(i), slice, |v| v);
        out
    }

    /// Map `i` as f32 (f64 data is rounded). Panics if `i >= len()`.
    pub fn map_f32(&self, i: usize) -> Array2<f32> {
        let mut out = Array2::<f32>::zeros((self.side, self.side));
        let slice = out.as_slice_mut().expect("fresh array is contiguous");
        self.decode_into(self.map_bytes(i), slice, |v| v as f32);
        out
    }

    /// Maps `range` as one f32 array `(range.len(), N, N)`. Panics if the
    /// range reaches past `len()`.
    pub fn maps_f32(&self, range: Range<usize>) -> Array3<f32> {
        assert!(
            range.start <= range.end && range.end <= self.n,
            "{}: map range {range:?} out of bounds (stack holds {} maps)",
            self.path.display(),
            self.n
        );
        let m = self.side * self.side;
        let mut out = Array3::<f32>::zeros((range.len(), self.side, self.side));
        let slice = out.as_slice_mut().expect("fresh array is contiguous");
        for (k, i) in range.enumerate() {
            self.decode_into(self.map_bytes(i), &mut slice[k * m..(k + 1) * m], |v| {
                v as f32
            });
        }
        out
    }

    /// The whole stack as f32 `(n, N, N)`. This reads every map: for large
    /// files prefer [`MapStack::map_f32`] or [`MapStack::maps_f32`] in chunks.
    pub fn to_array3_f32(&self) -> Array3<f32> {
        self.maps_f32(0..self.n)
    }

    /// Error naming the first NaN/±Inf (map, row i, column j), scanning maps in order.
    pub fn check_finite(&self) -> Result<()> {
        for m in 0..self.n {
            let map = self.map(m);
            if let Some(((i, j), &v)) = map.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(FieldsError::NonFinite {
                    path: self.path.clone(),
                    map: m,
                    i,
                    j,
                    value: v,
                });
            }
        }
        Ok(())
    }
}

/// Error naming the first NaN/±Inf of an in-memory stack as (map, i, j);
/// `source` names where the data came from.
pub fn check_finite(maps: ArrayView3<f32>, source: &Path) -> Result<()> {
    if let Some(((m, i, j), &v)) = maps.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(FieldsError::NonFinite {
            path: source.into(),
            map: m,
            i,
            j,
            value: v as f64,
        });
    }
    Ok(())
}

fn member_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| n.trim_end_matches(".npy"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn map_file(file: &File, path: &Path) -> Result<Mmap> {
    // SAFETY: the map is read-only; as with numpy's mmap_mode='r', the data
    // must not be truncated by another process while it is open.
    unsafe { Mmap::map(file) }.map_err(|e| FieldsError::io(path, "cannot memory-map", e))
}

fn dtype_error(path: &Path, d: &str) -> FieldsError {
    let kind = d.trim_start_matches(['<', '>', '=', '|']);
    let hint = if d.starts_with('>') && (kind == "f4" || kind == "f8") {
        format!("big-endian floats are not read; convert with a.astype('<{kind}')")
    } else if kind.starts_with('c') {
        "complex data; save the real part (a.real) or the modulus".into()
    } else if kind.starts_with('i') || kind.starts_with('u') || kind.starts_with('b') {
        "integer/boolean maps are not read; convert with a.astype('<f4')".into()
    } else if kind == "f2" {
        "half precision is not read; convert with a.astype('<f4')".into()
    } else {
        "maps must be little-endian float32 ('<f4') or float64 ('<f8')".into()
    };
    FieldsError::Dtype {
        path: path.into(),
        dtype: format!("'{d}'"),
        hint,
    }
}

fn check_shape_3(path: &Path, n: usize, r: usize, c: usize) -> Result<()> {
    if r != c {
        return Err(FieldsError::NotSquare {
            path: path.into(),
            rows: r,
            cols: c,
        });
    }
    if n == 0 || r == 0 {
        return Err(FieldsError::Empty {
            path: path.into(),
            shape: vec![n, r, c],
        });
    }
    Ok(())
}

/// `(n, side)` from a numpy-order shape, accepting `(N,N)`, `(n,N,N)` and `(n,1,N,N)`.
fn stack_dims(path: &Path, shape: &[usize]) -> Result<(usize, usize)> {
    let (n, r, c) = match *shape {
        [r, c] => (1, r, c),
        [n, r, c] => (n, r, c),
        [n, 1, r, c] => (n, r, c),
        _ => {
            return Err(FieldsError::Shape {
                path: path.into(),
                shape: shape.to_vec(),
                reason: format!(
                    "{}-dimensional array; expected one map (N, N) or a stack (n, N, N)",
                    shape.len()
                ),
            })
        }
    };
    check_shape_3(path, n, r, c)?;
    Ok((n, r))
}

/// The data bytes a header's shape promises, refusing shapes whose size overflows (a corrupt
/// or hostile header must get an error, not a wrapped size that passes the truncation check).
fn data_bytes(path: &Path, shape: &[usize], elem_size: usize) -> Result<u64> {
    Ok(checked_product(path, shape, elem_size)? as u64)
}

fn checked_product(path: &Path, shape: &[usize], elem_size: usize) -> Result<usize> {
    shape
        .iter()
        .try_fold(elem_size, |acc, &d| acc.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| too_large(path, shape))
}

fn too_large(path: &Path, shape: &[usize]) -> FieldsError {
    FieldsError::Shape {
        path: path.into(),
        shape: shape.to_vec(),
        reason: "the header's sizes overflow: corrupt header".into(),
    }
}

// ---------------------------------------------------------------- .npy header

struct NpyHeader {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    data_offset: usize,
}

fn parse_npy_header(bytes: &[u8], path: &Path) -> Result<NpyHeader> {
    let bad = |why: &str| FieldsError::format(path, format!("malformed .npy header: {why}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("missing magic string"));
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("file ends inside the header"));
            }
            (
                u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
                12,
            )
        }
        v => return Err(bad(&format!("unknown format version {v}"))),
    };
    let end = start + hlen;
    if bytes.len() < end {
        return Err(FieldsError::Truncated {
            path: path.into(),
            expected: end as u64,
            actual: bytes.len() as u64,
        });
    }
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text"))?;
    let descr = match dict_value(text, "descr").ok_or_else(|| bad("no 'descr' key"))? {
        Value::Str(s) => s,
        Value::Other(_) => {
            return Err(FieldsError::Dtype {
                path: path.into(),
                dtype: "structured".into(),
                hint: "record arrays are not maps; save one float field".into(),
            })
        }
    };
    let fortran_order =
        match dict_value(text, "fortran_order").ok_or_else(|| bad("no 'fortran_order' key"))? {
            Value::Other(s) if s == "True" => true,
            Value::Other(s) if s == "False" => false,
            _ => return Err(bad("'fortran_order' is neither True nor False")),
        };
    let shape = match dict_value(text, "shape").ok_or_else(|| bad("no 'shape' key"))? {
        Value::Other(s) => {
            let inner = s
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| bad("'shape' is not a tuple"))?;
            inner
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| t.trim_end_matches('L').parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| bad("'shape' holds a non-integer"))?
        }
        Value::Str(_) => return Err(bad("'shape' is a string")),
    };
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset: end,
    })
}

enum Value {
    Str(String),
    Other(String),
}

/// The value of `key` in a Python dict literal as numpy writes it: a quoted
/// string, or the raw text up to the next top-level comma / closing brace.
fn dict_value(text: &str, key: &str) -> Option<Value> {
    let pos = [format!("'{key}'"), format!("\"{key}\"")]
        .iter()
        .find_map(|k| text.find(k.as_str()).map(|p| p + k.len()))?;
    let rest = text[pos..].trim_start().strip_prefix(':')?.trim_start();
    let first = rest.chars().next()?;
    if first == '\'' || first == '"' {
        let close = rest[1..].find(first)?;
        return Some(Value::Str(rest[1..1 + close].to_owned()));
    }
    let mut depth = 0i32;
    for (k, ch) in rest.char_indices() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth -= 1,
            '}' if depth == 0 => return Some(Value::Other(rest[..k].trim().to_owned())),
            '}' => depth -= 1,
            ',' if depth == 0 => return Some(Value::Other(rest[..k].trim().to_owned())),
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------- FITS header

struct FitsHeader {
    bitpix: i64,
    naxis: Vec<usize>,
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
    pcount: usize,
    gcount: usize,
    xtension: Option<String>,
    zimage: bool,
    data_start: usize,
}

fn parse_fits_header(bytes: &[u8], start: usize, path: &Path, hdu: usize) -> Result<FitsHeader> {
    let bad = |why: String| {
        FieldsError::format(path, format!("malformed FITS header in HDU {hdu}: {why}"))
    };
    let mut h = FitsHeader {
        bitpix: 0,
        naxis: Vec::new(),
        bscale: 1.0,
        bzero: 0.0,
        blank: None,
        pcount: 0,
        gcount: 1,
        xtension: None,
        zimage: false,
        data_start: 0,
    };
    let mut n_axes: Option<usize> = None;
    let mut axes: Vec<Option<usize>> = Vec::new();
    let mut pos = start;
    let mut seen_bitpix = false;
    loop {
        if pos + 80 > bytes.len() {
            return Err(FieldsError::Truncated {
                path: path.into(),
                expected: (pos + 80) as u64,
                actual: bytes.len() as u64,
            });
        }
        // FITS headers are ASCII; checking that (not just UTF-8) keeps the byte slicing below
        // on character boundaries.
        let card = std::str::from_utf8(&bytes[pos..pos + 80])
            .ok()
            .filter(|c| c.is_ascii())
            .ok_or_else(|| bad(format!("non-ASCII header card at byte {pos}")))?;
        pos += 80;
        let key = card[..8].trim_end();
        if key == "END" {
            break;
        }
        if &card[8..10] != "= " {
            continue; // COMMENT, HISTORY, blank cards
        }
        let raw = card[10..].trim();
        let value = if let Some(s) = raw.strip_prefix('\'') {
            // FITS strings: '' is an escaped quote; value ends at a lone quote.
            let mut out = String::new();
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        out.push('\'');
                    } else {
                        break;
                    }
                } else {
                    out.push(c);
                }
            }
            out.trim_end().to_owned()
        } else {
            raw.split('/').next().unwrap_or("").trim().to_owned()
        };
        let int = |v: &str| -> Result<i64> {
            v.parse::<i64>()
                .map_err(|_| bad(format!("{key} = {v} is not an integer")))
        };
        let float = |v: &str| -> Result<f64> {
            v.replace(['D', 'd'], "E")
                .parse::<f64>()
                .map_err(|_| bad(format!("{key} = {v} is not a number")))
        };
        match key {
            "BITPIX" => {
                h.bitpix = int(&value)?;
                seen_bitpix = true;
            }
            "NAXIS" => {
                let n = int(&value)?;
                if !(0..=999).contains(&n) {
                    return Err(bad(format!("NAXIS = {n}")));
                }
                n_axes = Some(n as usize);
                axes = vec![None; n as usize];
            }
            "BSCALE" => h.bscale = float(&value)?,
            "BZERO" => h.bzero = float(&value)?,
            "BLANK" => h.blank = Some(int(&value)?),
            "PCOUNT" => h.pcount = int(&value)?.max(0) as usize,
            "GCOUNT" => h.gcount = int(&value)?.max(0) as usize,
            "XTENSION" => h.xtension = Some(value.trim().to_owned()),
            "ZIMAGE" => h.zimage = value == "T",
            k if k.starts_with("NAXIS") => {
                if let Ok(idx) = k[5..].parse::<usize>() {
                    let v = int(&value)?;
                    if v < 0 {
                        return Err(bad(format!("{k} = {v}")));
                    }
                    if idx >= 1 && idx <= axes.len() {
                        axes[idx - 1] = Some(v as usize);
                    }
                }
            }
            _ => {}
        }
    }
    if !seen_bitpix {
        return Err(bad("no BITPIX card".into()));
    }
    let n_axes = n_axes.ok_or_else(|| bad("no NAXIS card".into()))?;
    h.naxis = axes
        .into_iter()
        .enumerate()
        .map(|(k, a)| a.ok_or_else(|| bad(format!("NAXIS = {n_axes} but no NAXIS{} card", k + 1))))
        .collect::<Result<Vec<_>>>()?;
    h.data_start = (pos - start).div_ceil(FITS_BLOCK) * FITS_BLOCK + start;
    Ok(h)
}

// ---------------------------------------------------------------- writers

/// Write `path` atomically (the workspace's one rule, [`atomicio`]): readers see the old file or
/// the complete new one, never a part, and no temporary file is left behind on any error.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&mut File>) -> std::io::Result<()>,
) -> Result<()> {
    atomicio::write_with(path, write).map_err(FieldsError::from)
}

/// Element types the writers take.
pub trait Element: Copy + 'static {
    /// NumPy dtype string.
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
    fn to_f32(self) -> f32;
}
impl Element for f32 {
    const DESCR: &'static str = "<f4";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn to_f32(self) -> f32 {
        self
    }
}
impl Element for f64 {
    const DESCR: &'static str = "<f8";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
}

fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Pad so the data starts on a 64-byte boundary (as numpy does).
    let (prefix, version) = if dict.len() + 11 < 65536 {
        (10usize, 1u8)
    } else {
        (12, 2)
    };
    let total = (prefix + dict.len() + 1).div_ceil(64) * 64;
    while prefix + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY");
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

fn write_npy<T: Element, D: Dimension>(path: &Path, a: ArrayView<'_, T, D>) -> Result<()> {
    let header = npy_header(T::DESCR, a.shape());
    write_atomic(path, |w| {
        w.write_all(&header)?;
        let mut buf = Vec::with_capacity(1 << 16);
        // Logical (C) order regardless of the view's memory layout.
        for &v in a.iter() {
            v.write_le(&mut buf);
            if buf.len() >= 1 << 16 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)
    })
}

/// Write a C-ordered little-endian float32 `.npy` (format 1.0), readable by
/// `np.load`. Any dimensionality; maps are `(N, N)`, stacks `(n, N, N)`.
pub fn write_npy_f32<D: Dimension>(path: impl AsRef<Path>, a: ArrayView<'_, f32, D>) -> Result<()> {
    write_npy(path.as_ref(), a)
}

/// As [`write_npy_f32`], float64.
pub fn write_npy_f64<D: Dimension>(path: impl AsRef<Path>, a: ArrayView<'_, f64, D>) -> Result<()> {
    write_npy(path.as_ref(), a)
}

/// Write a FITS file whose primary HDU is a BITPIX −32 image `(N, N)` or cube
/// `(n, N, N)` (NAXIS1 = columns j, NAXIS2 = rows i, NAXIS3 = maps), so
/// `astropy.io.fits.getdata(path)` returns the same array.
pub fn write_fits_f32<D: Dimension>(
    path: impl AsRef<Path>,
    a: ArrayView<'_, f32, D>,
) -> Result<()> {
    let path = path.as_ref();
    let shape = a.shape();
    if !(1..=3).contains(&shape.len()) {
        return Err(FieldsError::invalid(
            path.display().to_string(),
            format!(
                "cannot write a {}-dimensional array as a FITS image",
                shape.len()
            ),
        ));
    }
    let mut cards: Vec<String> = vec![
        fits_card("SIMPLE", "T", "conforms to FITS standard"),
        fits_card("BITPIX", "-32", "IEEE 754 float32"),
        fits_card("NAXIS", &shape.len().to_string(), ""),
    ];
    for (k, d) in shape.iter().rev().enumerate() {
        cards.push(fits_card(&format!("NAXIS{}", k + 1), &d.to_string(), ""));
    }
    cards.push(fits_card(
        "ORIGIN",
        "'astrodiff'",
        "written by the astrodiff fields crate",
    ));
    cards.push(format!("{:<80}", "END"));
    let mut header = cards.concat().into_bytes();
    header.resize(header.len().div_ceil(FITS_BLOCK) * FITS_BLOCK, b' ');
    let n_data = a.len() * 4;
    write_atomic(path, |w| {
        w.write_all(&header)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for &v in a.iter() {
            buf.extend_from_slice(&v.to_be_bytes());
            if buf.len() >= 1 << 16 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)?;
        let pad = n_data.div_ceil(FITS_BLOCK) * FITS_BLOCK - n_data;
        w.write_all(&vec![0u8; pad])
    })
}

fn fits_card(key: &str, value: &str, comment: &str) -> String {
    let mut c = format!("{key:<8}= {value:>20}");
    if !comment.is_empty() {
        c.push_str(" / ");
        c.push_str(comment);
    }
    c.truncate(80);
    format!("{c:<80}")
}

#[cfg(test)]
mod tests;
