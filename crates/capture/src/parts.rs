//! The file names of a recording rotated into parts, and how given files are grouped back into recordings.

use std::path::{Path, PathBuf};

/// Highest part number tried when rotating past existing files.
pub(crate) const MAX_PART: u32 = 9_999;

/// `capture.jsonl` → `capture.jsonl` (part 0), `capture.0001.jsonl` (part 1), …
pub fn part_path(base: &Path, part: u32) -> PathBuf {
    if part == 0 {
        return base.to_owned();
    }
    let name = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, extensions) = match name.find('.') {
        Some(dot) => (&name[..dot], &name[dot..]),
        None => (name.as_str(), ""),
    };
    base.with_file_name(format!("{stem}.{part:04}{extensions}"))
}

/// Sorts capture files into recordings: each file with the later parts of it that are also given
/// ([`part_path`] names in the same folder, in part order), recordings in the order their first part was
/// given. A file given twice counts once.
pub fn group_parts(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let mut unique: Vec<&PathBuf> = Vec::with_capacity(files.len());
    let mut seen = std::collections::HashSet::new();
    for file in files {
        if seen.insert(normalized(file)) {
            unique.push(file);
        }
    }
    let index: std::collections::HashMap<PathBuf, usize> =
        unique.iter().enumerate().map(|(i, file)| (normalized(file), i)).collect();
    // For each file, the given base it is a later part of, and its part number.
    let part_of: Vec<Option<(usize, u32)>> = unique
        .iter()
        .map(|file| {
            let (base, part) = split_part(file)?;
            let &i = index.get(&normalized(&base))?;
            (normalized(&part_path(unique[i], part)) == normalized(file)).then_some((i, part))
        })
        .collect();
    let mut recordings = Vec::new();
    for (i, base) in unique.iter().enumerate() {
        if part_of[i].is_some() {
            continue;
        }
        let mut parts: Vec<(u32, &PathBuf)> = unique
            .iter()
            .zip(&part_of)
            .filter_map(|(file, of)| of.filter(|(b, _)| *b == i).map(|(_, part)| (part, *file)))
            .collect();
        parts.push((0, base));
        parts.sort_by_key(|(part, _)| *part);
        recordings.push(parts.into_iter().map(|(_, path)| path.clone()).collect());
    }
    recordings
}

/// The base a [`part_path`] name was made from, and its part number (`rec.0003.jsonl` → `rec.jsonl`, 3).
fn split_part(file: &Path) -> Option<(PathBuf, u32)> {
    let name = file.file_name()?.to_str()?;
    let (stem, rest) = name.split_at(name.find('.')?);
    let rest = &rest[1..];
    let digits_end = rest.find('.').unwrap_or(rest.len());
    let (digits, extensions) = rest.split_at(digits_end);
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = digits.parse().ok().filter(|part| *part >= 1)?;
    Some((file.with_file_name(format!("{stem}{extensions}")), part))
}

/// A path compared as a file: `rec.jsonl` and `./rec.jsonl` are the same.
fn normalized(path: &Path) -> PathBuf {
    path.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}
