//! Every case in shared/fixtures/metrics against the oracle numbers (conventions: docs/conventions.md §1–§3).

mod common;

use common::{assert_close, f64s, load_cases, u64s, Case};
use stats::minkowski::{bit_quad_counts, quantimpy_counts, Boundary};
use stats::{histogram, minkowski, power_spectrum, MfConvention, Transform};

fn transform_of(v: &serde_json::Value) -> Transform {
    v.as_str().unwrap().parse().unwrap()
}

fn check_pk_block(case: &Case, ps_json: &serde_json::Value, transform: Transform) {
    let name = &case.name;
    let l = ps_json["box_size"].as_f64().unwrap();
    let x = transform.apply(case.field.view()).unwrap();
    let ps = power_spectrum(x.view(), l).unwrap();
    let r = &ps_json["reference_f64"];
    let want_pk = f64s(&r["pk"]);
    assert_eq!(ps.nmodes, f64s(&r["nmodes"]), "{name}: nmodes");
    assert_eq!(
        ps.k.len(),
        ps_json["nbins"].as_u64().unwrap() as usize,
        "{name}: nbins"
    );
    assert_close(
        &format!("{name} {transform} k"),
        &ps.k,
        &f64s(&r["k"]),
        1e-12,
        0.0,
    );
    // ≤ 1e-9 relative; bins that are zero in exact arithmetic (plane/Nyquist waves, constant)
    // hold FFT round-off, so they get an absolute floor of 1e-12 of the largest power.
    let max_p = want_pk.iter().cloned().fold(0.0, f64::max);
    assert_close(
        &format!("{name} {transform} P(k) vs reference_f64"),
        &ps.pk,
        &want_pk,
        1e-9,
        1e-12 * max_p,
    );

    // Pylians itself (float32 FFT): k and nmodes identical, P to the README's tolerance.
    let p = &ps_json["pylians"];
    assert_eq!(ps.nmodes, f64s(&p["nmodes"]), "{name}: pylians nmodes");
    assert_close(
        &format!("{name} pylians k"),
        &ps.k,
        &f64s(&p["k"]),
        1e-12,
        0.0,
    );
    let pyl = f64s(&p["pk"]);
    let pmax = pyl.iter().cloned().fold(0.0, f64::max);
    for (i, (g, w)) in ps.pk.iter().zip(&pyl).enumerate() {
        let ok = (g - w).abs() <= 1e-5 * w.abs() || (g - w).abs() <= 1e-6 * pmax;
        assert!(ok, "{name} pylians P[{i}]: got {g}, want {w}");
    }
}

#[test]
fn power_spectrum_matches_reference_and_pylians() {
    for case in load_cases() {
        check_pk_block(&case, &case.json["power_spectrum"], Transform::Identity);
        if !case.json["power_spectrum_overdensity"].is_null() {
            check_pk_block(
                &case,
                &case.json["power_spectrum_overdensity"],
                Transform::Overdensity,
            );
        }
    }
}

#[test]
fn histogram_counts_exact() {
    for case in load_cases() {
        let h = &case.json["histogram"];
        let name = &case.name;
        let x = transform_of(&h["transform"])
            .apply(case.field.view())
            .unwrap();
        let got = histogram(x.view(), &f64s(&h["edges"])).unwrap();
        assert_eq!(got.counts, u64s(&h["counts"]), "{name}: counts");
        assert_eq!(
            got.n_below,
            h["n_below_first_edge"].as_u64().unwrap(),
            "{name}: below"
        );
        assert_eq!(
            got.n_above,
            h["n_above_last_edge"].as_u64().unwrap(),
            "{name}: above"
        );
        assert_eq!(got.n_total, h["n_total"].as_u64().unwrap(), "{name}: total");
        assert_eq!(
            got.n_in_range(),
            h["n_in_range"].as_u64().unwrap(),
            "{name}: in range"
        );
        let last = *got.edges.last().unwrap();
        let n_eq = x.iter().filter(|&&v| v == last).count() as u64;
        assert_eq!(
            n_eq,
            h["n_equal_last_edge"].as_u64().unwrap(),
            "{name}: equal to last edge"
        );
        assert_close(
            &format!("{name} pdf_over_total"),
            &got.pdf_over_total(),
            &f64s(&h["pdf_over_total"]),
            1e-14,
            0.0,
        );
        assert_close(
            &format!("{name} numpy_density"),
            &got.numpy_density(),
            &f64s(&h["numpy_density"]),
            1e-14,
            0.0,
        );
    }
}

#[test]
fn minkowski_counts_exact_periodic_and_open() {
    for case in load_cases() {
        let m = &case.json["minkowski"];
        let name = &case.name;
        let x = transform_of(&m["transform"])
            .apply(case.field.view())
            .unwrap();
        let thresholds = f64s(&m["thresholds"]);
        let n = x.nrows() as f64;
        let (l, delta) = (
            case.json["box_size_mpc_h"].as_f64().unwrap(),
            case.json["pixel_size_mpc_h"].as_f64().unwrap(),
        );
        let per = bit_quad_counts(x.view(), &thresholds, Boundary::Periodic).unwrap();
        let open = bit_quad_counts(x.view(), &thresholds, Boundary::Open).unwrap();
        let sk_open = f64s(&m["skimage_open_contour_length_pix"]);
        let sk_per = f64s(&m["skimage_periodic_contour_length_pix"]);
        for (t, r) in m["reference"].as_array().unwrap().iter().enumerate() {
            let u = r["threshold"].as_f64().unwrap();
            assert_eq!(u, thresholds[t]);
            let what = format!("{name} u={u}");
            for (label, c, want) in [
                ("periodic", &per[t], &r["periodic"]),
                ("open", &open[t], &r["open"]),
            ] {
                assert_eq!(c.n_above, r["n_above"].as_u64().unwrap(), "{what}: n_above");
                assert_eq!(c.q1, want["q1"].as_u64().unwrap(), "{what} {label}: q1");
                assert_eq!(c.q3, want["q3"].as_u64().unwrap(), "{what} {label}: q3");
                assert_eq!(c.qd, want["qd"].as_u64().unwrap(), "{what} {label}: qd");
                assert_eq!(
                    c.chi8(),
                    want["chi8"].as_f64().unwrap(),
                    "{what} {label}: chi8"
                );
                assert_eq!(
                    c.chi4(),
                    want["chi4"].as_f64().unwrap(),
                    "{what} {label}: chi4"
                );
                assert_eq!(
                    c.n_boundary_edges,
                    want["n_boundary_edges"].as_u64().unwrap(),
                    "{what} {label}: edges"
                );
                let ms = want["ms_length_pix"].as_f64().unwrap();
                assert!(
                    (c.ms_length_pix - ms).abs() <= 1e-9,
                    "{what} {label}: ms length {} vs {ms}",
                    c.ms_length_pix
                );
            }
            // The README's independent check: skimage find_contours agrees to 1e-9.
            assert!(
                (per[t].ms_length_pix - sk_per[t]).abs() <= 1e-9,
                "{what}: vs skimage periodic"
            );
            assert!(
                (open[t].ms_length_pix - sk_open[t]).abs() <= 1e-9,
                "{what}: vs skimage open"
            );
            // Normalised values, pixel and physical units.
            let v0 = r["V0"].as_f64().unwrap();
            let v1 = r["V1_pix"].as_f64().unwrap();
            let v2 = r["V2_pix"].as_f64().unwrap();
            assert_eq!(per[t].n_above as f64 / (n * n), v0, "{what}: V0");
            assert!(
                (per[t].ms_length_pix / (4.0 * n * n) - v1).abs() <= 1e-12 * v1.abs().max(1e-3),
                "{what}: V1"
            );
            assert_eq!(per[t].chi8() / (n * n), v2, "{what}: V2");
            assert!(
                (v1 / delta - r["V1_phys"].as_f64().unwrap()).abs() <= 1e-12,
                "{what}: V1_phys"
            );
            assert!(
                (per[t].chi8() / (l * l) - r["V2_phys"].as_f64().unwrap()).abs() <= 1e-15,
                "{what}: V2_phys"
            );
        }
        // The public entry point gives the same numbers as the counts (it insists on increasing
        // thresholds; gaussian_blob lists them decreasing).
        if thresholds.windows(2).any(|w| w[1] <= w[0]) {
            assert!(minkowski(x.view(), &thresholds, MfConvention::Periodic).is_err());
            continue;
        }
        let mk = minkowski(x.view(), &thresholds, MfConvention::Periodic).unwrap();
        let want_v0: Vec<f64> = m["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["V0"].as_f64().unwrap())
            .collect();
        let want_v1: Vec<f64> = m["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["V1_pix"].as_f64().unwrap())
            .collect();
        let want_v2: Vec<f64> = m["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["V2_pix"].as_f64().unwrap())
            .collect();
        assert_eq!(mk.v0, want_v0, "{name}: minkowski() v0");
        assert_close(
            &format!("{name} minkowski() v1"),
            &mk.v1,
            &want_v1,
            1e-12,
            1e-15,
        );
        assert_eq!(mk.v2, want_v2, "{name}: minkowski() v2");
        let mo = minkowski(x.view(), &thresholds, MfConvention::Open).unwrap();
        let open_chi: Vec<f64> = m["reference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["open"]["chi8"].as_f64().unwrap())
            .collect();
        assert_eq!(mo.chi, open_chi, "{name}: minkowski(open) chi");
    }
}

#[test]
fn quantimpy_block_matches() {
    for case in load_cases() {
        let m = &case.json["minkowski"];
        let name = &case.name;
        let x = transform_of(&m["transform"])
            .apply(case.field.view())
            .unwrap();
        let thresholds = f64s(&m["thresholds"]);
        let q = quantimpy_counts(x.view(), &thresholds).unwrap();
        let increasing = thresholds.windows(2).all(|w| w[1] > w[0]);
        let mk =
            increasing.then(|| minkowski(x.view(), &thresholds, MfConvention::Quantimpy).unwrap());
        for (t, want) in m["quantimpy"].as_array().unwrap().iter().enumerate() {
            let what = format!("{name} u={} quantimpy", thresholds[t]);
            let (area, length, euler) = (
                want["area"].as_f64().unwrap(),
                want["length"].as_f64().unwrap(),
                want["euler"].as_f64().unwrap(),
            );
            assert_eq!(q[t].area(), area, "{what}: area");
            assert!(
                (q[t].length() - length).abs() <= 1e-9 * length.abs().max(1.0),
                "{what}: length {} vs {length}",
                q[t].length()
            );
            assert!(
                (q[t].euler() - euler).abs() <= 1e-9 * euler.abs().max(1.0),
                "{what}: euler {} vs {euler}",
                q[t].euler()
            );
            if let Some(mk) = &mk {
                assert_eq!(
                    (mk.v0[t], mk.v1[t], mk.v2[t]),
                    (q[t].area(), q[t].length(), q[t].euler()),
                    "{what}: minkowski()"
                );
            }
        }
    }
}

#[test]
fn analytic_blocks_in_fixtures() {
    for case in load_cases() {
        let a = &case.json["analytic"]["minkowski"];
        if a["chi8_periodic_at_u_0.5"].is_null() {
            continue;
        }
        let c = &bit_quad_counts(case.field.view(), &[0.5], Boundary::Periodic).unwrap()[0];
        assert_eq!(
            c.chi8(),
            a["chi8_periodic_at_u_0.5"].as_f64().unwrap(),
            "{}: chi8",
            case.name
        );
        assert_eq!(
            c.chi4(),
            a["chi4_periodic_at_u_0.5"].as_f64().unwrap(),
            "{}: chi4",
            case.name
        );
        assert_eq!(
            c.n_above,
            a["n_pixels_set"].as_u64().unwrap(),
            "{}: area",
            case.name
        );
    }
}
