//! The report's stylesheet: readable on screen, and a clean document when printed or saved as
//! PDF (no navigation, black on white, no row split across pages, table headings repeated).

pub(super) const CSS: &str = "\
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}\
h3{font-size:1.05rem;margin-top:1.2rem}\
.art{font-size:.8rem;font-weight:normal;color:#555;margin-left:.5rem}\
.summary{background:#f4f6f8;border:1px solid #d7dde3;padding:.8rem 1rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}\
td,th{border:1px solid #999;padding:.25rem .45rem;text-align:left;vertical-align:top}th{background:#eef1f4}\
.note{color:#444;font-size:.9rem}\
nav ol{columns:2}\
@media print{\
@page{margin:16mm 14mm}\
body{max-width:none;margin:0;padding:0;color:#000;background:#fff;font-size:10.5pt}\
nav,button,.no-print{display:none}\
.summary{background:#fff;border:1px solid #000}\
a{color:#000;text-decoration:none}\
th{background:#fff}td,th{border-color:#000}\
thead{display:table-header-group}\
tr,li,dl,.summary{break-inside:avoid;page-break-inside:avoid}\
h2,h3{break-after:avoid;page-break-after:avoid}\
.art,.note{color:#000}\
}";
