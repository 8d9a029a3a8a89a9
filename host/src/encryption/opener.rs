//! Opening: a stored object's segments, each handed on only once it authenticates, as they
//! arrive or a whole object in place.

use super::format::{Broken, HEADER_LEN, Header, Plan, TAG, integrity};
use super::keys::{KeyRing, ObjectKey};

/// Opens a stored object as its bytes arrive: the header (unless known), then segment after
/// segment, each handed on only once it authenticates, clipped to the plaintext range wanted.
pub struct Opener {
    keys: KeyRing,
    name: String,
    state: State,
    /// Stored bytes not yet a whole segment (or header).
    pending: Vec<u8>,
    /// The plaintext range to hand on; `None` for the whole object.
    want: Option<(u64, u64)>,
}

enum State {
    Header,
    Segments { header: Header, key: Box<ObjectKey>, index: u64, last: u64 },
    Done,
}

impl Opener {
    /// Opens a whole object, its header first.
    pub fn whole(keys: &KeyRing, name: &str) -> Opener {
        Opener { keys: keys.clone(), name: name.to_string(), state: State::Header, pending: Vec::new(), want: None }
    }

    /// Opens the segments of `plan`, fetched after `header`.
    pub fn ranged(keys: &KeyRing, name: &str, header: Header, plan: Plan) -> Result<Opener, Broken> {
        let key = ObjectKey::new(keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, name);
        let last = (plan.plain.1 - 1) / header.segment as u64;
        Ok(Opener {
            keys: keys.clone(),
            name: name.to_string(),
            state: State::Segments { header, key: Box::new(key), index: plan.first_segment, last },
            pending: Vec::new(),
            want: Some(plan.plain),
        })
    }

    /// Takes stored bytes; appends the plaintext they complete to `out`.
    pub fn push(&mut self, mut stored: &[u8], out: &mut Vec<u8>) -> Result<(), Broken> {
        while !stored.is_empty() {
            let need = match &self.state {
                State::Header => HEADER_LEN,
                State::Segments { header, index, .. } => header.segment_at(*index).1 as usize,
                State::Done => return Err(integrity("the object is longer than its header says")),
            };
            let take = (need - self.pending.len()).min(stored.len());
            self.pending.extend_from_slice(&stored[..take]);
            stored = &stored[take..];
            if self.pending.len() < need {
                break;
            }
            self.step(out)?;
        }
        Ok(())
    }

    /// The header or segment in `pending` is whole: read it.
    fn step(&mut self, out: &mut Vec<u8>) -> Result<(), Broken> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Header => {
                let header = Header::decode(&self.pending)?;
                let key = ObjectKey::new(self.keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, &self.name);
                let last = header.segments() - 1;
                self.state = State::Segments { header, key: Box::new(key), index: 0, last };
            }
            State::Segments { header, key, index, last } => {
                let plain = key.open(index, &mut self.pending)?;
                let at = index * header.segment as u64;
                let (from, to) = self.want.unwrap_or((0, u64::MAX));
                let start = from.saturating_sub(at).min(plain as u64) as usize;
                let end = to.saturating_sub(at).min(plain as u64) as usize;
                out.extend_from_slice(&self.pending[start..end.max(start)]);
                if index < last {
                    self.state = State::Segments { header, key, index: index + 1, last };
                }
            }
            State::Done => unreachable!("push checks for Done"),
        }
        self.pending.clear();
        Ok(())
    }

    /// Opens `stored`, all the bytes fetched, in memory: a whole object in place ([`open`]),
    /// a range's segments through [`push`](Self::push).
    pub fn open_all(mut self, stored: Vec<u8>) -> Result<Vec<u8>, Broken> {
        if matches!(self.state, State::Header) && self.want.is_none() {
            return open(&self.keys, &self.name, stored);
        }
        let mut out = Vec::with_capacity(stored.len());
        self.push(&stored, &mut out)?;
        self.finish()?;
        Ok(out)
    }

    /// After the last stored byte: whether every segment wanted was there.
    pub fn finish(&self) -> Result<(), Broken> {
        match &self.state {
            State::Done => Ok(()),
            State::Header => Err(integrity("the object ends inside its header")),
            State::Segments { index, last, .. } => Err(integrity(format!(
                "the object is cut short: segment {index} of the segments up to {last} is missing"
            ))),
        }
    }
}

fn missing(header: &Header) -> Broken {
    Broken::MissingKey(format!(
        "sealed with key id \"{}\", which is neither encryption.keyId nor in encryption.oldKeys",
        header.key_id
    ))
}

/// Opens a whole stored object in memory, in place: each segment is decrypted where it lies
/// and its plaintext moved down, so the object is never copied whole.
pub fn open(keys: &KeyRing, name: &str, mut stored: Vec<u8>) -> Result<Vec<u8>, Broken> {
    let header = Header::decode(&stored)?;
    let key = ObjectKey::new(keys.key(&header.key_id).ok_or_else(|| missing(&header))?, &header, name);
    let expected = HEADER_LEN as u64 + header.plain_len + TAG as u64 * header.segments();
    let mut written = 0;
    for index in 0..header.segments() {
        let (at, len) = header.segment_at(index);
        let (at, len) = (at as usize, len as usize);
        let Some(segment) = stored.get_mut(at..at + len) else {
            return Err(integrity(format!("the object is cut short: it is {} bytes, its header says {expected}", stored.len())));
        };
        let plain = key.open(index, segment)?;
        stored.copy_within(at..at + plain, written);
        written += plain;
    }
    if stored.len() as u64 != expected {
        return Err(integrity(format!("the object is {} bytes, its header says {expected}", stored.len())));
    }
    stored.truncate(written);
    Ok(stored)
}
