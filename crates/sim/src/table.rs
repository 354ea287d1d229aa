//! Result tables and their CSV form: fixed formatting, so the same run gives the same bytes.

use std::fmt::Write as _;

/// One cell of a result table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A count or size, printed as an integer.
    Int(u64),
    /// A measured value, printed with four decimals.
    Num(f64),
    /// A label.
    Text(String),
}

impl Cell {
    fn render(&self) -> String {
        match self {
            Cell::Int(v) => v.to_string(),
            Cell::Num(v) => format!("{v:.4}"),
            Cell::Text(t) if t.contains([',', '"', '\n']) => {
                format!("\"{}\"", t.replace('"', "\"\""))
            }
            Cell::Text(t) => t.clone(),
        }
    }

    /// The value as a number, for plots (text is NaN).
    pub fn as_f64(&self) -> f64 {
        match self {
            Cell::Int(v) => *v as f64,
            Cell::Num(v) => *v,
            Cell::Text(_) => f64::NAN,
        }
    }
}

impl From<usize> for Cell {
    fn from(v: usize) -> Cell {
        Cell::Int(v as u64)
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Cell {
        Cell::Int(v)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Num(v)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_string())
    }
}

impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}

/// A named table of results: one CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// File stem of the CSV (and plot).
    pub name: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(name: &str, columns: &[&str]) -> Table {
        Table {
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width of {}", self.name);
        self.rows.push(row);
    }

    /// The values of column `name` as numbers (empty when there is no such column).
    pub fn column(&self, name: &str) -> Vec<f64> {
        match self.columns.iter().position(|c| c == name) {
            Some(i) => self
                .rows
                .iter()
                .map(|r| r.get(i).map_or(f64::NAN, Cell::as_f64))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The CSV text: header line, then one line per row, `\n` line ends.
    pub fn to_csv(&self) -> String {
        let mut out = self.columns.join(",");
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::render).collect();
            let _ = writeln!(out, "{}", cells.join(","));
        }
        out
    }

    /// A Markdown rendering, for the console and docs.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.columns.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.columns.len()));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::render).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_fixed_formatting_and_quotes_commas() {
        let mut t = Table::new("t", &["n", "x", "label"]);
        t.push(vec![3usize.into(), 0.5.into(), "a,b".into()]);
        assert_eq!(t.to_csv(), "n,x,label\n3,0.5000,\"a,b\"\n");
        assert_eq!(t.column("x"), vec![0.5]);
    }
}
