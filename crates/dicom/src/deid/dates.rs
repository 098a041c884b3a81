//! Dates moved by whole days, keeping the intervals between them (PS3.15 E.3.6, "Retain
//! Longitudinal Temporal Information with Modified Dates"): DA values and the date part of DT
//! values; times, time zones and the precision a value had stay as they were.

use super::keyed_digest;

/// The longest shift a patient's dates get, in days (about ten years), never zero.
pub const MAX_SHIFT_DAYS: i64 = 3650;

/// How many days back every date of a patient moves under `key`: the same for all of that
/// patient's studies in every run with that key, and different from patient to patient.
pub fn patient_shift(key: &[u8], patient_id: &str) -> i64 {
    let digest = keyed_digest(key, &[b"date shift", patient_id.trim().as_bytes()]);
    let n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    -((n % MAX_SHIFT_DAYS as u64) as i64 + 1)
}

/// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(
        if m == 12 { y + 1 } else { y },
        if m == 12 { 1 } else { m + 1 },
        1,
    ) - days_from_civil(y, m, 1)
}

/// `YYYYMMDD` moved by `days`; `None` when it is not such a date (a query range, a partial date
/// of the pre-1993 form, a year outside 0001–9999 after the move).
pub fn shift_date(value: &str, days: i64) -> Option<String> {
    let v = value.trim();
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, d) = (
        v[..4].parse::<i64>().ok()?,
        v[4..6].parse::<i64>().ok()?,
        v[6..].parse::<i64>().ok()?,
    );
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d) + days);
    (1..=9999)
        .contains(&y)
        .then(|| format!("{y:04}{m:02}{d:02}"))
}

/// A DT value (`YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]`) with its date moved by `days`: only a
/// value with a whole date moves (a year or a month alone says too little to move by days);
/// the rest is kept as it was.
pub fn shift_date_time(value: &str, days: i64) -> Option<String> {
    let v = value.trim();
    if v.len() < 8 || !v.as_bytes()[..8].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!("{}{}", shift_date(&v[..8], days)?, &v[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_move_by_whole_days_across_months_years_and_leap_days() {
        assert_eq!(shift_date("20240301", -1).unwrap(), "20240229");
        assert_eq!(shift_date("20230301", -1).unwrap(), "20230228");
        assert_eq!(shift_date("20000101", -1).unwrap(), "19991231");
        assert_eq!(shift_date("19700101", 0).unwrap(), "19700101");
        assert_eq!(shift_date("21000228", 1).unwrap(), "21000301");
        assert_eq!(shift_date("20240230", 1), None);
        assert_eq!(shift_date("2024.03.01", 1), None);
        assert_eq!(shift_date("20240101-20240131", 1), None);
        assert_eq!(
            shift_date_time("20240301120000.123456+0100", -366).unwrap(),
            "20230301120000.123456+0100"
        );
        assert_eq!(shift_date_time("2024", -1), None);
        // Every day over four centuries round-trips.
        for day in -200_000..200_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn a_patient_keeps_one_shift_and_intervals_stay() {
        let shift = patient_shift(b"key", "P123");
        assert_eq!(shift, patient_shift(b"key", "P123 "));
        assert!((-MAX_SHIFT_DAYS..0).contains(&shift), "{shift}");
        assert_ne!(shift, patient_shift(b"other key", "P123"));
        let (a, b) = (
            shift_date("20200110", shift).unwrap(),
            shift_date("20200301", shift).unwrap(),
        );
        let days = |s: &str| {
            days_from_civil(
                s[..4].parse().unwrap(),
                s[4..6].parse().unwrap(),
                s[6..].parse().unwrap(),
            )
        };
        assert_eq!(days(&b) - days(&a), 51);
    }
}
